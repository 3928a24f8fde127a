"""Looking things up: messages, batches (the report), the sandbox outbox, and the
public settings (price per segment, quiet hours, which driver delivers)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy import func, select

from egactl.plugin.server import ApiRoute, db, not_found, page, principal, visible
from egactl_sms import validation
from egactl_sms.backend.common import batch_out, iso, message_out, normalize_or_422, phone_out, setting, text_out
from egactl_sms.backend.models import Batch, Message, OutboxEntry

router = APIRouter(route_class=ApiRoute, tags=["sms"])

REPORTED_REASONS = 10
MessageState = Literal[validation.STATES]  # type: ignore[valid-type]


@router.get("/settings")
def show_settings():
    from egactl_sms.backend import drivers

    problem = drivers.configuration_problem(setting)
    return {"driver": drivers.driver_name(setting), "driver_ready": problem is None, "driver_problem": problem,
            "rate": float(setting("rate")), "price_per_segment": float(setting("price_per_segment")),
            "currency": setting("currency"), "quiet_hours": validation.QUIET_HOURS,
            "max_segments": validation.MAX_SEGMENTS, "max_quick_recipients": validation.MAX_QUICK_RECIPIENTS}


def _get_batch(batch_id: int) -> Batch:
    batch = db().get(Batch, batch_id)
    if batch is None:
        raise not_found(f"batch {batch_id}")
    principal().check_read(batch.institution)
    return batch


def _sender_lookup():
    """serialize() for a page of messages: each batch's sender read once."""
    senders: dict[int, str | None] = {}

    def serialize(m: Message) -> dict[str, Any]:
        if m.batch_id not in senders:
            senders[m.batch_id] = db().scalar(select(Batch.sender).where(Batch.id == m.batch_id))
        return message_out(m, senders[m.batch_id])

    return serialize


@router.get("/messages")
def list_messages(cursor: str | None = None, limit: int | None = None, batch: int | None = None,
                  status: MessageState | None = None, to: str | None = None, institution: str | None = None):
    stmt = select(Message)
    if batch is not None:
        _get_batch(batch)
        stmt = stmt.where(Message.batch_id == batch)
    if status:
        stmt = stmt.where(Message.state == status)
    if to:
        stmt = stmt.where(Message.recipient == normalize_or_422(to, "to"))
    stmt = visible(stmt, Message.institution, institution)
    return page(db(), stmt, Message.id, cursor=cursor, limit=limit, serialize=_sender_lookup())


@router.get("/messages/{message_id}")
def show_message(message_id: int):
    m = db().get(Message, message_id)
    if m is None:
        raise not_found(f"message {message_id}")
    principal().check_read(m.institution)
    return message_out(m, db().scalar(select(Batch.sender).where(Batch.id == m.batch_id)))


@router.get("/batches")
def list_batches(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                 kind: str | None = None, client_ref: str | None = None):
    """Batches, oldest first; ``client_ref`` finds the batch a bulk run opened."""
    stmt = visible(select(Batch), Batch.institution, institution)
    if kind:
        stmt = stmt.where(Batch.kind == kind)
    if client_ref:
        stmt = stmt.where(Batch.client_ref == client_ref)
    return page(db(), stmt, Batch.id, cursor=cursor, limit=limit, serialize=batch_out)


@router.get("/batches/{batch_id}")
def report(batch_id: int):
    """The batch with its messages counted per state and its commonest failure reasons."""
    batch = _get_batch(batch_id)
    counts = dict(db().execute(select(Message.state, func.count()).where(Message.batch_id == batch_id)
                               .group_by(Message.state)).all())
    reasons = db().execute(
        select(Message.state, Message.reason, func.count().label("n"))
        .where(Message.batch_id == batch_id, Message.state.in_(("failed", "rejected", "expired")))
        .group_by(Message.state, Message.reason).order_by(func.count().desc()).limit(REPORTED_REASONS)).all()
    out = batch_out(batch)
    out["states"] = {s: counts.get(s, 0) for s in validation.STATES}
    out["failure_reasons"] = [{"state": s, "reason": r, "count": n} for s, r, n in reasons]
    return out


def outbox_out(o: OutboxEntry) -> dict[str, Any]:
    return {"id": o.id, "message": o.message_id, "batch": o.batch_id, "institution": o.institution,
            "sender": o.sender, "to": phone_out(o.recipient), "text": text_out(o.body), "encoding": o.encoding,
            "segments": o.segments, "sent_at": iso(o.sent_at)}


@router.get("/outbox")
def outbox(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
           to: str | None = None, batch: int | None = None):
    stmt = visible(select(OutboxEntry), OutboxEntry.institution, institution)
    if to:
        stmt = stmt.where(OutboxEntry.recipient == normalize_or_422(to, "to"))
    if batch is not None:
        stmt = stmt.where(OutboxEntry.batch_id == batch)
    return page(db(), stmt, OutboxEntry.id, cursor=cursor, limit=limit, serialize=outbox_out)
