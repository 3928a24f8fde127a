"""/api/v1/sms/batches: bulk batches and their recipient chunks, the report of
any send, and cancelling a batch's messages not yet handed to a gateway.

Queued messages — scheduled ones included — become ``cancelled``; a message
the delivery worker has already claimed (``submitting``) or handed over
(``submitted``, ``delivered``) is left alone and counted: an SMS cannot be
called back. A cancelled batch also takes no more recipients, and a message of
it that comes back to the queue (a gateway retry, a dead worker's claim) is
cancelled when the worker next sees it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select, update

from egactl.plugin.rules import RuleError
from egactl.plugin.server import (ApiRoute, audit, conflict, db, invalid, iso, page, principal, require_institution,
                                  visible)
from egactl_sms import encoding, rules
from egactl_sms.server import drivers, lifecycle, sending
from egactl_sms.server.models import Batch
from egactl_sms.server.schemas import BatchIn, CancelIn, RecipientsIn, RecipientsOut, batch_out
from egactl_sms.server.service import (cancel_batch_messages, delivery_time, get_batch, optouts_among, price,
                                       resolve_sender, setting, state_counts)

router = APIRouter(route_class=ApiRoute, tags=["sms"])

REPORTED_REASONS = 10


@router.post("/batches", status_code=201)
def create_batch(body: BatchIn):
    """Open a bulk batch; ``client_ref`` makes a resumed run find the batch it started.

    With ``digest``, a batch identical to an earlier one (same sender, template,
    file content and schedule) is refused with 409 (``duplicate_of`` names the
    earlier batch and its counts) unless ``again``; ``replaces`` restarts an
    interrupted batch (its unsent messages are cancelled, in this transaction).
    """
    inst = require_institution(body.institution).code
    try:
        template = rules.compile_template(body.template)
    except RuleError as exc:
        raise invalid(str(exc), "template") from None
    if body.client_ref and not body.dry_run:
        existing = db().scalar(select(Batch).where(Batch.institution == inst, Batch.client_ref == body.client_ref))
        if existing is not None:
            return JSONResponse({**batch_out(existing), "resumed": True, "warnings": _paused()}, status_code=200)
    sender = resolve_sender(inst, body.sender)
    deliver_after, waits = delivery_time(body.at, quiet_rule=not body.allow_quiet_hours)
    per_segment, currency = price()
    replaced = None
    if body.replaces:
        replaced = db().scalar(select(Batch).where(Batch.institution == inst, Batch.client_ref == body.replaces))
    identity = None
    if body.digest:
        scheduled = body.at.astimezone(dt.timezone.utc).isoformat() if body.at else None
        identity = sending.identity_of("bulk", sender, body.template, body.digest, scheduled)
    what = "this campaign (the same sender, template, recipient file and schedule)"
    if body.dry_run:
        blocking = identity and sending.blocking_guard(inst, identity, again=body.again, window=None,
                                                       replaces=replaced.id if replaced else None)
        return JSONResponse({"dry_run": True, "institution": inst, "sender": sender, "fields": template.fields,
                             "deliver_after": iso(deliver_after), "waits_for_quiet_hours": waits,
                             "price_per_segment": per_segment, "currency": currency,
                             "duplicate_of": sending.earlier_batch(blocking.batch_id) if blocking else None})
    batch = sending.new_batch(institution=inst, kind="bulk", sender=sender, text=body.template, group=None,
                              at=body.at, deliver_after=deliver_after, allow_quiet=body.allow_quiet_hours,
                              normalize=body.normalize, source=body.source, client_ref=body.client_ref)
    if identity:
        sending.claim(batch, identity, again=body.again, window=None, replaces=replaced.id if replaced else None,
                      what=what)
    out = batch_out(batch)
    restarted = None
    if replaced is not None:
        principal().check_write(replaced.institution)
        cancelled, handed = cancel_batch_messages(replaced, reason=f"the bulk run was restarted as batch {batch.id}")
        restarted = {"batch": replaced.id, "cancelled": cancelled, "handed_over": handed}
        audit.record("cancel", "sms-batch", replaced.id, institution=inst,
                     after={"cancelled": cancelled, "handed_over": handed, "replaced_by": batch.id})
    audit.record("create", "sms-batch", batch.id, institution=inst,
                 after={k: out[k] for k in ("kind", "sender", "source", "deliver_after")})
    return JSONResponse({**out, "waits_for_quiet_hours": waits, "resumed": False, "restarted": restarted,
                         "warnings": _paused()}, status_code=201)


def _paused() -> list[str]:
    """The batch's recipients will be queued: say so if delivery is paused."""
    return [w for w in (drivers.paused(setting),) if w]


@router.post("/batches/{batch_id}/recipients", response_model=RecipientsOut)
def add_recipients(batch_id: int, body: RecipientsIn):
    """One chunk of a bulk run: ``{"results": [{"line", "status", "id", "error"}]}`` where
    status is queued, duplicate, opted_out or failed."""
    batch = get_batch(batch_id, write=True)
    if batch.kind != "bulk":
        raise conflict( f"batch {batch_id} is a {batch.kind} send; recipients can be added only to bulk batches")
    if batch.cancelled_at is not None:
        raise sending.cancelled_problem(batch)
    template = rules.compile_template(batch.text)
    fields = template.fields
    results: list[dict[str, Any]] = []
    prepared: list[tuple[int, str, str, encoding.Analysis]] = []
    refused = 0
    for item in body.items:
        try:
            phone = rules.recipient(item.to)
        except RuleError as exc:
            refused += 1
            results.append({"line": item.line, "status": "failed", "error": str(exc)})
            continue
        missing = [f for f in fields if f not in item.fields]
        if missing:
            refused += 1
            results.append({"line": item.line, "status": "failed", "error": f"no value for {', '.join(missing)}"})
            continue
        text = template.render(item.fields)
        if batch.normalize:
            text = encoding.normalize(text)
        problem, analysis = rules.measure(text)
        if problem:
            refused += 1
            results.append({"line": item.line, "status": "failed", "error": problem})
            continue
        prepared.append((item.line, phone, text, analysis))
    opted = optouts_among(batch.institution, [p[1] for p in prepared]) if prepared else set()
    rows: list[tuple] = []
    lines: list[tuple[int, str]] = []
    seen: set[str] = set()
    opted_count = duplicates = 0
    for line, phone, text, a in prepared:
        if phone in opted:
            opted_count += 1
            results.append({"line": line, "status": "opted_out", "error": None})
        elif phone in seen:
            duplicates += 1
            results.append({"line": line, "status": "duplicate", "error": None})
        else:
            seen.add(phone)
            lines.append((line, phone))
            rows.append((phone, text, a.encoding, a.segments, line))
    inserted = sending.insert_messages(batch, rows, quiet_ok=batch.allow_quiet_hours)
    segments = sum(r[3] for r in rows if r[0] in inserted)
    for line, phone in lines:
        if phone in inserted:
            results.append({"line": line, "status": "queued", "id": str(inserted[phone])})
        else:
            duplicates += 1
            results.append({"line": line, "status": "duplicate", "error": None})
    # The last write, and a check: if the batch was cancelled since it was read above, the
    # whole chunk is rolled back. (On PostgreSQL this UPDATE waits for a cancel holding the
    # batch's row and then sees it; a cancel that comes later waits for this commit and
    # then cancels these messages too.)
    still_open = db().execute(
        update(Batch).where(Batch.id == batch.id, Batch.cancelled_at.is_(None)).values(
            messages=Batch.messages + len(inserted), segments=Batch.segments + segments,
            duplicates=Batch.duplicates + duplicates, opted_out=Batch.opted_out + opted_count,
            invalid=Batch.invalid + refused)).rowcount
    if not still_open:
        db().refresh(batch)
        raise sending.cancelled_problem(batch)
    audit.record("add-recipients", "sms-batch", batch.id, institution=batch.institution,
                 after={"rows": len(body.items), "queued": len(inserted), "duplicates": duplicates,
                        "opted_out": opted_count, "invalid": refused})
    results.sort(key=lambda r: r["line"])
    # Straight to JSON: these answers are plain data, and a chunk has thousands of them.
    return JSONResponse({"results": results})


@router.get("/batches")
def list_batches(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                 kind: str | None = None, client_ref: str | None = None, oldest_first: bool = False):
    """Batches, newest first (by when they were made); ``oldest_first`` reverses it; ``client_ref``
    finds the batch a bulk run opened."""
    stmt = visible(select(Batch), Batch.institution, institution)
    if kind:
        stmt = stmt.where(Batch.kind == kind)
    if client_ref:
        stmt = stmt.where(Batch.client_ref == client_ref)
    return page(db(), stmt, Batch.id, cursor=cursor, limit=limit, serialize=batch_out, order_by=Batch.created_at,
                oldest_first=oldest_first)


@router.get("/batches/{batch_id}")
def report(batch_id: int):
    """The batch with its messages counted per state and its commonest failure reasons: read from
    the batch's counters (a few rows), never from its messages."""
    batch = get_batch(batch_id)
    reasons = lifecycle.commonest_reasons(db(), batch_id, REPORTED_REASONS)
    out = batch_out(batch)
    out["states"] = state_counts(batch_id)
    out["failure_reasons"] = [{"state": s, "reason": r, "count": n} for s, r, n in reasons]
    return out


@router.post("/batches/{batch_id}/cancel")
def cancel_batch(batch_id: int, body: CancelIn | None = None):
    """Cancel a batch's messages not yet handed to a gateway (queued or scheduled).

    Answers ``{"batch", "cancelled", "handed_over", "states", "dry_run"}``:
    ``handed_over`` counts the messages already with the gateway, which are
    left alone. Cancelling again cancels nothing more and is not an error.
    """
    dry_run = bool(body and body.dry_run)
    batch = get_batch(batch_id, write=True)
    if dry_run:
        states = state_counts(batch.id)
        return {"batch": batch.id, "institution": batch.institution, "dry_run": True, "cancelled": states["queued"],
                "handed_over": sum(states[s] for s in rules.HANDED_OVER), "states": states}
    cancelled, handed = cancel_batch_messages(batch, reason=f"cancelled by {principal().subject}")
    audit.record("cancel", "sms-batch", batch.id, institution=batch.institution,
                 after={"cancelled": cancelled, "handed_over": handed})
    return {"batch": batch.id, "institution": batch.institution, "dry_run": False, "cancelled": cancelled,
            "handed_over": handed, "states": state_counts(batch.id),
            "cancelled_at": iso(batch.cancelled_at),
            "cancelled_by": batch.cancelled_by}


