"""/api/v1/sms/optouts: numbers that asked an institution to send them nothing more."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, insert_unique, not_found, page,
                                  principal, require_institution, visible)
from egactl_sms.server.models import OptOut
from egactl_sms.server.schemas import OptOutIn, optout_out
from egactl_sms.server.service import optout_keys, recipient_or_422

router = APIRouter(route_class=ApiRoute, tags=["sms"])


@router.get("")
def list_optouts(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                 phone: str | None = None):
    stmt = visible(select(OptOut), OptOut.institution, institution)
    if phone:  # an erased person's opt-out is kept as the number's pseudonym
        stmt = stmt.where(OptOut.phone.in_(optout_keys(recipient_or_422(phone))))
    return page(db(), stmt, OptOut.id, cursor=cursor, limit=limit, serialize=optout_out, oldest_first=True)


@router.post("", status_code=201)
def add_optout(body: OptOutIn):
    inst = require_institution(body.institution).code
    phone = recipient_or_422(body.phone)
    existing = db().scalar(select(OptOut).where(OptOut.institution == inst, OptOut.phone == phone))
    if existing is not None:
        return {**optout_out(existing), "already": True}
    row = OptOut(institution=inst, phone=phone, reason=body.reason, created_by=principal().subject,
                 created_at=backend().now())
    try:
        insert_unique(row, f"{phone} has already opted out of {inst}'s messages")
    except Problem as exc:  # a concurrent request added it first: the same outcome
        if exc.status != 409:
            raise
        row = db().scalar(select(OptOut).where(OptOut.institution == inst, OptOut.phone == phone))
        return {**optout_out(row), "already": True}
    audit.record("opt-out", "sms-optout", f"{inst}/{phone}", institution=inst, after=optout_out(row), reason=body.reason)
    return {**optout_out(row), "already": False}


@router.delete("/{institution}/{phone}")
def remove_optout(institution: str, phone: str):
    inst = require_institution(institution).code
    number = recipient_or_422(phone)
    row = db().scalar(select(OptOut).where(OptOut.institution == inst, OptOut.phone.in_(optout_keys(number)))
                      .limit(1))  # the number, or (its person's data erased) its pseudonym
    if row is None:
        raise not_found(f"opt-out of {number} for {inst}")
    # Locked first: of concurrent removals one deletes it (and writes the audit entry), the others get 404.
    row = etag.lock(row, f"opt-out of {number} for {inst}")
    before = optout_out(row)
    db().delete(row)
    db().flush()
    audit.record("opt-in", "sms-optout", f"{inst}/{number}", institution=inst, before=before)
    return before
