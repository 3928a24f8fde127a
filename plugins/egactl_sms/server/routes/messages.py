"""/api/v1/sms/messages: quick and group sends, looking messages up, and
cancelling one that has not been handed to a gateway yet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from egactl.plugin.rules import RuleError, normalise_msisdn
from egactl.plugin.server import (ApiRoute, Problem, audit, conflict, db, invalid, iso, page, principal,
                                  require_institution, visible)
from egactl_sms import encoding, rules
from egactl_sms.server import drivers, lifecycle, sending
from egactl_sms.server.models import GroupMember, Message
from egactl_sms.server.schemas import CancelIn, MessageState, SendIn, batch_out, message_out, phone_out
from egactl_sms.server.service import (delivery_time, get_batch, get_group, get_message, optouts_among, price,
                                       recipient_or_422, resolve_sender, sender_of, setting)

router = APIRouter(route_class=ApiRoute, tags=["sms"])


@router.post("/messages", status_code=201)
def send(body: SendIn):
    """A quick send (``to``) or a group send (``group``); ``dry_run`` estimates and stores nothing."""
    if (body.to is None) == (body.group is None):
        raise invalid("give either the numbers to send to or a group, not both or neither", "to")
    inst = require_institution(body.institution).code
    text, analysis = sending.prepare_text(body.text, body.normalize)
    kind = "group" if body.group is not None else "quick"
    if kind == "quick":
        numbers, errors = [], []
        for i, raw in enumerate(body.to or []):
            try:
                numbers.append(normalise_msisdn(raw))
            except RuleError as exc:
                errors.append({"field": f"to[{i}]", "message": str(exc)})
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise Problem(422, f"invalid number {errors[0]['message']}{more}; nothing was sent", errors=errors)
        if not numbers:
            raise invalid("no numbers to send to", "to")
        given = len(numbers)
        unique = list(dict.fromkeys(numbers))
    else:
        group = get_group(inst, body.group or "")
        unique = list(db().scalars(select(GroupMember.phone).where(GroupMember.group_id == group.id)
                                   .order_by(GroupMember.id)))
        given = len(unique)
        if not unique:
            raise invalid(f"group {group.name!r} has no members; nothing to send", "group")
    sender = resolve_sender(inst, body.sender)
    quiet_rule = kind == "group" and not body.allow_quiet_hours
    deliver_after, waits = delivery_time(body.at, quiet_rule=quiet_rule)
    opted = optouts_among(inst, unique)
    recipients = [n for n in unique if n not in opted]
    per_segment, currency = price()
    warning = encoding.typographic_warning(analysis)
    identity = sending.identity_of("group", group.name, text, sender) if kind == "group" else None
    what = f"this message to group {body.group!r}"
    if body.dry_run:
        total = analysis.segments * len(recipients)
        blocking = identity and sending.blocking_guard(inst, identity, again=body.again, window=sending.GROUP_WINDOW,
                                                       replaces=None)
        return JSONResponse({
            "duplicate_of": sending.earlier_batch(blocking.batch_id) if blocking else None,
            "dry_run": True, "kind": kind, "institution": inst, "sender": sender, "group": body.group,
            "given": given, "duplicates": given - len(unique), "opted_out": len(opted),
            "recipients": len(recipients), "to": [phone_out(n) for n in recipients[:sending.DRY_RUN_LISTED]],
            "encoding": analysis.encoding, "length": analysis.length, "segments_per_message": analysis.segments,
            "total_segments": total, "price_per_segment": per_segment, "currency": currency,
            "estimated_cost": round(total * per_segment, 2), "deliver_after": iso(deliver_after),
            "waits_for_quiet_hours": waits, "warnings": [warning] if warning else [],
        })
    batch = sending.new_batch(institution=inst, kind=kind, sender=sender, text=text, group=body.group, at=body.at,
                              deliver_after=deliver_after, allow_quiet=body.allow_quiet_hours,
                              normalize=body.normalize)
    if identity:
        sending.claim(batch, identity, again=body.again, window=sending.GROUP_WINDOW, replaces=None, what=what)
    ids = sending.insert_messages(batch, [(n, text, analysis.encoding, analysis.segments, None) for n in recipients],
                                  quiet_ok=not quiet_rule)
    sending.add_to_totals(batch.id, messages=len(ids), segments=len(ids) * analysis.segments,
                          duplicates=given - len(unique), opted_out=len(opted))
    db().refresh(batch)
    out = batch_out(batch)
    audit.record("send", "sms-batch", batch.id, institution=inst,
                 after={k: out[k] for k in ("kind", "sender", "group", "messages", "segments", "deliver_after")})
    out["waits_for_quiet_hours"] = waits
    out["warnings"] = [w for w in (warning, drivers.paused(setting)) if w]
    if kind == "quick":
        out["recipients"] = [{"id": ids[n], "to": phone_out(n), "state": "queued"} for n in recipients if n in ids]
    return JSONResponse(out, status_code=201)


def _sender_lookup():
    """serialize() for a page of messages: each batch's sender read once."""
    senders: dict[int, str | None] = {}

    def serialize(m: Message) -> dict[str, Any]:
        if m.batch_id not in senders:
            senders[m.batch_id] = sender_of(m.batch_id)
        return message_out(m, senders[m.batch_id])

    return serialize


@router.get("/messages")
def list_messages(cursor: str | None = None, limit: int | None = None, batch: int | None = None,
                  status: MessageState | None = None, to: str | None = None, institution: str | None = None,
                  oldest_first: bool = False):
    """Messages, newest first (by when they were queued); ``oldest_first`` reverses it."""
    stmt = select(Message)
    if batch is not None:
        get_batch(batch)
        stmt = stmt.where(Message.batch_id == batch)
    if status:
        stmt = stmt.where(Message.state == status)
    if to:
        stmt = stmt.where(Message.recipient == recipient_or_422(to, "to"))
    stmt = visible(stmt, Message.institution, institution)
    return page(db(), stmt, Message.id, cursor=cursor, limit=limit, serialize=_sender_lookup(),
                order_by=Message.created_at, oldest_first=oldest_first)


@router.get("/messages/{message_id}")
def show_message(message_id: int):
    m = get_message(message_id)
    return message_out(m, sender_of(m.batch_id))


@router.post("/messages/{message_id}/cancel")
def cancel_message(message_id: int, body: CancelIn | None = None):
    """Cancel one message if it has not been handed to a gateway; 409 if it has (or is final)."""
    dry_run = bool(body and body.dry_run)
    m = get_message(message_id, write=True)
    sender = sender_of(m.batch_id)
    if m.state == "cancelled":
        return {**message_out(m, sender), "cancelled": False, "dry_run": dry_run}
    if m.state != "queued":
        why = "it has been handed to the gateway and cannot be called back" if m.state in rules.HANDED_OVER \
            else "only a queued message can be cancelled"
        raise conflict(f"message {m.id} is {m.state}; {why}", state=m.state)
    if dry_run:
        return {**message_out(m, sender), "cancelled": True, "dry_run": True}
    done = lifecycle.move(db(), Message.id == m.id, source="queued", target="cancelled", batch_id=m.batch_id,
                          values={"reason": f"cancelled by {principal().subject}", "claim": None, "claimed_at": None})
    db().refresh(m)
    if not done:  # the delivery worker claimed it between the read and the update
        raise conflict(f"message {m.id} is {m.state}; it has been handed to the gateway and cannot be called back",
                       state=m.state)
    audit.record("cancel", "sms-message", m.id, institution=m.institution, after={"state": "cancelled"})
    return {**message_out(m, sender), "cancelled": True, "dry_run": False}
