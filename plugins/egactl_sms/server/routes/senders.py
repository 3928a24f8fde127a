"""/api/v1/sms/senders: sender IDs, requested by an institution, approved by e-GA
(their life is ``rules.SENDER``)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.server import (ApiRoute, audit, backend, conflict, db, etag, insert_unique, page, principal,
                                  same_or_conflict,
                                  require_institution, visible)
from egactl_sms import rules
from egactl_sms.server.models import Sender
from egactl_sms.server.schemas import Decision, SenderIn, Withdrawal, sender_out
from egactl_sms.server.service import get_sender

router = APIRouter(route_class=ApiRoute, tags=["sms"])


@router.get("")
def list_senders(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                 status: str | None = None):
    stmt = visible(select(Sender), Sender.institution, institution)
    if status:
        stmt = stmt.where(Sender.status == status)
    return page(db(), stmt, Sender.id, cursor=cursor, limit=limit, serialize=sender_out, oldest_first=True)


@router.get("/{name}")
def show_sender(name: str):
    row = get_sender(name)
    return etag.respond(sender_out(row), row.version)


@router.post("", status_code=201, responses={200: {"description": "Requested already, as asked: nothing changed"}})
def request_sender(body: SenderIn):
    """Request a sender ID: 201. The same request again is 200 with the sender as it is
    (its state may have moved on), changing nothing; another purpose is 409 naming it."""
    name = body.name
    inst = require_institution(body.institution).code
    existing = db().scalar(select(Sender).where(Sender.name_key == rules.sender_key(name)))
    if existing is not None:
        if existing.institution == inst:
            same_or_conflict(existing, {"purpose": body.purpose}, what=f"sender ID {existing.name} for {inst}")
            return etag.respond(sender_out(existing), existing.version, status_code=200)
        raise conflict(f"sender ID {name} is already registered to another institution")
    p = principal()
    row = Sender(institution=inst, name=name, name_key=rules.sender_key(name), status="pending",
                 purpose=body.purpose, requested_by=p.subject, requested_at=backend().now(), version=1)
    insert_unique(row, f"sender ID {name} is already registered")
    audit.record("request", "sms-sender", row.name, institution=inst, after=sender_out(row))
    return etag.respond(sender_out(row), row.version, status_code=201)


def _decide(name: str, action: str, note: str | None):
    principal().require("admin")
    row = get_sender(name)
    # Locked, and held against the If-Match: the state checked below is the one
    # the change applies to (two admins deciding at once: one wins, one gets 412/409).
    row = etag.guard(row, f"sender ID {row.name}")
    status = rules.SENDER.next_state(action, row.status)  # an illegal decision: 409, by the route frame
    if row.status == status:
        # Deciding again is not an error: it is already so.
        return etag.respond(sender_out(row), row.version)
    before = sender_out(row)
    row.status = status
    row.decided_by = principal().subject
    row.decided_at = backend().now()
    row.decision_note = note
    db().flush()
    audit.record(action, "sms-sender", row.name, institution=row.institution, before=before, after=sender_out(row),
                 reason=note)
    return etag.respond(sender_out(row), row.version)


@router.post("/{name}/approve")
def approve_sender(name: str, body: Decision | None = None):
    return _decide(name, "approve", body.note if body else None)


@router.post("/{name}/reject")
def reject_sender(name: str, body: Decision | None = None):
    return _decide(name, "reject", body.note if body else None)


@router.post("/{name}/withdraw")
def withdraw_sender(name: str, body: Withdrawal | None = None):
    """The institution takes back its own sender ID (requested or approved): it can no longer
    be sent from. Its operators or an e-GA administrator; a second withdrawal is a 409."""
    row = get_sender(name)
    principal().check_write(row.institution)
    row = etag.guard(row, f"sender ID {row.name}")
    status = rules.SENDER.next_state("withdraw", row.status)  # withdrawn, rejected: 409, by the route frame
    reason = body.reason if body else None
    before = sender_out(row)
    row.status = status
    row.decided_by = principal().subject
    row.decided_at = backend().now()
    row.decision_note = reason
    db().flush()
    audit.record("withdraw", "sms-sender", row.name, institution=row.institution, before=before,
                 after=sender_out(row), reason=reason)
    return etag.respond(sender_out(row), row.version)
