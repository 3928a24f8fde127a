"""/api/v1/sms/senders: sender IDs, requested by an institution, approved by e-GA."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, insert_unique, not_found, page,
                                  principal, require_institution, visible)
from egactl_sms import validation
from egactl_sms.backend.common import sender_out
from egactl_sms.backend.models import Sender

router = APIRouter(route_class=ApiRoute, tags=["sms"])


class SenderIn(BaseModel):
    institution: str
    name: str
    purpose: str | None = Field(default=None, max_length=500)


class Decision(BaseModel):
    note: str | None = Field(default=None, max_length=500)


def get_sender(name: str) -> Sender:
    row = db().scalar(select(Sender).where(Sender.name_key == validation.sender_key(name.strip())))
    if row is None:
        raise not_found(f"sender ID {name}")
    principal().check_read(row.institution)
    return row


@router.get("")
def list_senders(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                 status: str | None = None):
    stmt = visible(select(Sender), Sender.institution, institution)
    if status:
        stmt = stmt.where(Sender.status == status)
    return page(db(), stmt, Sender.id, cursor=cursor, limit=limit, serialize=sender_out)


@router.get("/{name}")
def show_sender(name: str):
    row = get_sender(name)
    return etag.respond(sender_out(row), row.version)


@router.post("", status_code=201)
def request_sender(body: SenderIn):
    name = body.name.strip()
    if problem := validation.check_sender_id(name):
        raise Problem(422, problem, errors=[{"field": "name", "message": problem}])
    inst = require_institution(body.institution).code
    existing = db().scalar(select(Sender).where(Sender.name_key == validation.sender_key(name)))
    if existing is not None:
        if existing.institution == inst:
            raise Problem(409, f"sender ID {existing.name} was already requested for {inst} ({existing.status})")
        raise Problem(409, f"sender ID {name} is already registered to another institution")
    p = principal()
    row = Sender(institution=inst, name=name, name_key=validation.sender_key(name), status="pending",
                 purpose=body.purpose, requested_by=p.subject, requested_at=backend().now(), version=1)
    insert_unique(row, f"sender ID {name} is already registered")
    audit.record("request", "sms-sender", row.name, institution=inst, after=sender_out(row))
    return etag.respond(sender_out(row), row.version, status_code=201)


# The decisions each state allows: a pending request is approved or rejected; an
# approved sender ID can still be withdrawn (rejected); a rejected one is final.
DECISIONS = {"approved": {"pending"}, "rejected": {"pending", "approved"}}


def _decide(name: str, status: str, note: str | None):
    principal().require("admin")
    row = get_sender(name)
    # Locked, and held against the If-Match: the state checked below is the one
    # the change applies to (two admins deciding at once: one wins, one gets 412/409).
    row = etag.guard(row, f"sender ID {row.name}")
    if row.status == status:
        # Deciding again is not an error: it is already so.
        return etag.respond(sender_out(row), row.version)
    if row.status not in DECISIONS[status]:
        verb = "approve" if status == "approved" else "reject"
        raise Problem(409, f"cannot {verb} sender ID {row.name}: it is {row.status}", status_now=row.status)
    before = sender_out(row)
    row.status = status
    row.decided_by = principal().subject
    row.decided_at = backend().now()
    row.decision_note = note
    db().flush()
    audit.record("approve" if status == "approved" else "reject", "sms-sender", row.name, institution=row.institution, before=before, after=sender_out(row), reason=note)
    return etag.respond(sender_out(row), row.version)


@router.post("/{name}/approve")
def approve_sender(name: str, body: Decision | None = None):
    return _decide(name, "approved", body.note if body else None)


@router.post("/{name}/reject")
def reject_sender(name: str, body: Decision | None = None):
    return _decide(name, "rejected", body.note if body else None)
