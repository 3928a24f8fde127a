"""Cancelling: a batch's messages (POST /batches/{id}/cancel) or one message
(POST /messages/{id}/cancel) that have not been handed to a gateway yet.

Queued messages — scheduled ones included — become ``cancelled``; a message
the delivery worker has already claimed (``submitting``) or handed over
(``submitted``, ``delivered``) is left alone and counted: an SMS cannot be
called back. Race-free against the worker: the cancel is one
``UPDATE … WHERE state = 'queued'``. On PostgreSQL the worker claims with
``SELECT … FOR UPDATE SKIP LOCKED``, so a message is either claimed first (the
cancel waits for that commit, then finds it no longer queued) or cancelled
first (the worker skips the locked row and finds it no longer queued); SQLite
runs one writer at a time. A cancelled batch also takes no more recipients,
and a message of it that comes back to the queue (a gateway retry, a dead
worker's claim) is cancelled when the worker next sees it.
"""

from __future__ import annotations


from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select, update

from egactl.plugin.server import ApiRoute, Problem, audit, backend, db, not_found, principal
from egactl_sms import validation
from egactl_sms.backend.common import message_out
from egactl_sms.backend.models import Batch, Message

router = APIRouter(route_class=ApiRoute, tags=["sms"])


class CancelIn(BaseModel):
    dry_run: bool = False


def state_counts(batch_id: int) -> dict[str, int]:
    counts = dict(db().execute(select(Message.state, func.count()).where(Message.batch_id == batch_id)
                               .group_by(Message.state)).all())
    return {s: counts.get(s, 0) for s in validation.STATES}


def cancel_batch_messages(batch: Batch, *, reason: str) -> tuple[int, int]:
    """In the caller's transaction: mark the batch cancelled, cancel its queued messages;
    (cancelled now, handed to the gateway and left alone)."""
    now = backend().now()
    # The batch first: this takes its row, so a recipients chunk still being stored either
    # committed before (and its messages are cancelled below) or finds the batch cancelled.
    db().execute(update(Batch).where(Batch.id == batch.id, Batch.cancelled_at.is_(None))
                 .values(cancelled_at=now, cancelled_by=principal().subject))
    cancelled = db().execute(update(Message).where(Message.batch_id == batch.id, Message.state == "queued")
                             .values(state="cancelled", reason=reason, claim=None, claimed_at=None)).rowcount
    handed = db().scalar(select(func.count()).select_from(Message).where(
        Message.batch_id == batch.id, Message.state.in_(validation.HANDED_OVER))) or 0
    db().refresh(batch)
    return cancelled, handed


def _writable_batch(batch_id: int) -> Batch:
    batch = db().get(Batch, batch_id)
    if batch is None:
        raise not_found(f"batch {batch_id}")
    principal().check_write(batch.institution)
    return batch


@router.post("/batches/{batch_id}/cancel")
def cancel_batch(batch_id: int, body: CancelIn | None = None):
    """Cancel a batch's messages not yet handed to a gateway (queued or scheduled).

    Answers ``{"batch", "cancelled", "handed_over", "states", "dry_run"}``:
    ``handed_over`` counts the messages already with the gateway, which are
    left alone. Cancelling again cancels nothing more and is not an error.
    """
    dry_run = bool(body and body.dry_run)
    batch = _writable_batch(batch_id)
    if dry_run:
        states = state_counts(batch.id)
        return {"batch": batch.id, "institution": batch.institution, "dry_run": True, "cancelled": states["queued"],
                "handed_over": sum(states[s] for s in validation.HANDED_OVER), "states": states}
    cancelled, handed = cancel_batch_messages(batch, reason=f"cancelled by {principal().subject}")
    audit.record("cancel", "sms-batch", batch.id, institution=batch.institution,
                 after={"cancelled": cancelled, "handed_over": handed})
    return {"batch": batch.id, "institution": batch.institution, "dry_run": False, "cancelled": cancelled,
            "handed_over": handed, "states": state_counts(batch.id),
            "cancelled_at": batch.cancelled_at.isoformat() if batch.cancelled_at else None,
            "cancelled_by": batch.cancelled_by}


@router.post("/messages/{message_id}/cancel")
def cancel_message(message_id: int, body: CancelIn | None = None):
    """Cancel one message if it has not been handed to a gateway; 409 if it has (or is final)."""
    dry_run = bool(body and body.dry_run)
    m = db().get(Message, message_id)
    if m is None:
        raise not_found(f"message {message_id}")
    principal().check_write(m.institution)
    sender = db().scalar(select(Batch.sender).where(Batch.id == m.batch_id))
    if m.state == "cancelled":
        return {**message_out(m, sender), "cancelled": False, "dry_run": dry_run}
    if m.state != "queued":
        why = "it has been handed to the gateway and cannot be called back" if m.state in validation.HANDED_OVER \
            else "only a queued message can be cancelled"
        raise Problem(409, f"message {m.id} is {m.state}; {why}", state=m.state)
    if dry_run:
        return {**message_out(m, sender), "cancelled": True, "dry_run": True}
    done = db().execute(update(Message).where(Message.id == m.id, Message.state == "queued").values(
        state="cancelled", reason=f"cancelled by {principal().subject}", claim=None, claimed_at=None)).rowcount
    db().refresh(m)
    if not done:  # the delivery worker claimed it between the read and the update
        raise Problem(409, f"message {m.id} is {m.state}; it has been handed to the gateway and cannot be called back",
                      state=m.state)
    audit.record("cancel", "sms-message", m.id, institution=m.institution, after={"state": "cancelled"})
    return {**message_out(m, sender), "cancelled": True, "dry_run": False}
