"""Sending: quick and group sends (POST /messages), bulk batches and their
recipient chunks (POST /batches, POST /batches/{id}/recipients).

Everything a send needs is decided here, in the request's one transaction:
numbers validated and de-duplicated, opt-outs skipped, the text normalised and
measured, delivery time fixed (scheduling, quiet hours). The messages are
stored ``queued``; the delivery worker takes it from there.

A bulk chunk is inserted with ``INSERT … ON CONFLICT DO NOTHING`` on (batch,
recipient): a number seen in an earlier chunk — or in the same chunk sent
again after a lost response — is answered ``duplicate`` and costs nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from egactl.server import audit
from egactl.server.problems import Problem, not_found
from egactl.server.routes.institutions import require_institution
from egactl.server.scope import ApiRoute, backend, db, principal
from egactl_sms import encoding, validation
from egactl_sms.backend.common import (batch_out, delivery_time, insert_new, iso, optouts_among, phone_out,
                                       resolve_sender, setting)
from egactl_sms.backend.groups import get_group
from egactl_sms.backend.models import Batch, GroupMember, Message

router = APIRouter(route_class=ApiRoute, tags=["sms"])

MAX_CHUNK = 5000
DRY_RUN_LISTED = 1000


class SendIn(BaseModel):
    institution: str
    text: str = Field(max_length=5000)
    to: list[str] | None = Field(default=None, max_length=validation.MAX_QUICK_RECIPIENTS)
    group: str | None = None
    sender: str | None = None
    at: dt.datetime | None = None
    allow_quiet_hours: bool = False
    normalize: bool = False
    dry_run: bool = False


class BatchIn(BaseModel):
    institution: str
    template: str = Field(max_length=5000)
    sender: str | None = None
    at: dt.datetime | None = None
    allow_quiet_hours: bool = False
    normalize: bool = False
    source: str | None = Field(default=None, max_length=255)
    client_ref: str | None = Field(default=None, max_length=100)
    dry_run: bool = False


class RecipientIn(BaseModel):
    line: int
    to: str
    fields: dict[str, str] = Field(default_factory=dict)


class RecipientsIn(BaseModel):
    items: list[RecipientIn] = Field(max_length=MAX_CHUNK)


def _prepare_text(text: str, normalize: bool) -> tuple[str, encoding.Analysis]:
    if normalize:
        text = encoding.normalize(text)
    problem, analysis = validation.measure(text)
    if problem:
        raise Problem(422, problem, errors=[{"field": "text", "message": problem}])
    return text, analysis


def _price() -> tuple[float, str]:
    return float(setting("price_per_segment")), str(setting("currency"))


def _new_batch(*, institution: str, kind: str, sender: str, text: str, group: str | None, at: dt.datetime | None,
               deliver_after: dt.datetime, allow_quiet: bool, normalize: bool, source: str | None = None,
               client_ref: str | None = None) -> Batch:
    price, currency = _price()
    batch = Batch(institution=institution, kind=kind, sender=sender, text=text, group_name=group, source=source,
                  client_ref=client_ref, normalize=normalize, allow_quiet_hours=allow_quiet,
                  scheduled_at=at.astimezone(dt.timezone.utc) if at else None, deliver_after=deliver_after,
                  price_per_segment=price, currency=currency, created_by=principal().subject,
                  created_at=backend().now(), messages=0, segments=0, duplicates=0, opted_out=0, invalid=0)
    db().add(batch)
    db().flush()
    return batch


MESSAGE_COLUMNS = ["recipient", "body", "encoding", "segments", "line"]


def _insert_messages(batch: Batch, rows: list[tuple], *, quiet_ok: bool) -> dict[str, int]:
    """Queue (recipient, text, encoding, segments, line) rows; {recipient: id} of those
    new to the batch (a recipient already in it is left alone)."""
    if not rows:
        return {}
    constants = {"batch_id": batch.id, "institution": batch.institution, "state": "queued", "quiet_ok": quiet_ok,
                 "deliver_after": batch.deliver_after, "created_at": backend().now(), "attempts": 0}
    return dict(insert_new(Message.__table__, MESSAGE_COLUMNS, rows, constants=constants,
                           conflict=["batch_id", "recipient"], returning=["recipient", "id"]))


def _count(batch_id: int, **increments: int) -> None:
    """Add to a batch's totals in SQL, so concurrent chunks never lose an update."""
    values = {k: getattr(Batch, k) + v for k, v in increments.items() if v}
    if values:
        db().execute(update(Batch).where(Batch.id == batch_id).values(**values))


@router.post("/messages", status_code=201)
def send(body: SendIn):
    """A quick send (``to``) or a group send (``group``); ``dry_run`` estimates and stores nothing."""
    if (body.to is None) == (body.group is None):
        raise Problem(422, "give either the numbers to send to or a group, not both or neither",
                      errors=[{"field": "to", "message": "to or group"}])
    inst = require_institution(body.institution).code
    text, analysis = _prepare_text(body.text, body.normalize)
    kind = "group" if body.group is not None else "quick"
    if kind == "quick":
        numbers, errors = [], []
        for i, raw in enumerate(body.to or []):
            try:
                numbers.append(validation.normalize_msisdn(raw))
            except validation.InvalidNumber as exc:
                errors.append({"field": f"to[{i}]", "message": str(exc)})
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise Problem(422, f"invalid number {errors[0]['message']}{more}; nothing was sent", errors=errors)
        if not numbers:
            raise Problem(422, "no numbers to send to", errors=[{"field": "to", "message": "empty"}])
        given = len(numbers)
        unique = list(dict.fromkeys(numbers))
    else:
        group = get_group(inst, body.group or "")
        unique = list(db().scalars(select(GroupMember.phone).where(GroupMember.group_id == group.id)
                                   .order_by(GroupMember.id)))
        given = len(unique)
        if not unique:
            raise Problem(422, f"group {group.name!r} has no members; nothing to send",
                          errors=[{"field": "group", "message": "empty"}])
    sender = resolve_sender(inst, body.sender)
    quiet_rule = kind == "group" and not body.allow_quiet_hours
    deliver_after, waits = delivery_time(body.at, quiet_rule=quiet_rule)
    opted = optouts_among(inst, unique)
    recipients = [n for n in unique if n not in opted]
    price, currency = _price()
    warning = encoding.typographic_warning(analysis)
    if body.dry_run:
        total = analysis.segments * len(recipients)
        return JSONResponse({
            "dry_run": True, "kind": kind, "institution": inst, "sender": sender, "group": body.group,
            "given": given, "duplicates": given - len(unique), "opted_out": len(opted),
            "recipients": len(recipients), "to": [phone_out(n) for n in recipients[:DRY_RUN_LISTED]],
            "encoding": analysis.encoding, "length": analysis.length, "segments_per_message": analysis.segments,
            "total_segments": total, "price_per_segment": price, "currency": currency,
            "estimated_cost": round(total * price, 2), "deliver_after": iso(deliver_after),
            "waits_for_quiet_hours": waits, "warnings": [warning] if warning else [],
        })
    batch = _new_batch(institution=inst, kind=kind, sender=sender, text=text, group=body.group, at=body.at,
                       deliver_after=deliver_after, allow_quiet=body.allow_quiet_hours, normalize=body.normalize)
    ids = _insert_messages(batch, [(n, text, analysis.encoding, analysis.segments, None) for n in recipients],
                           quiet_ok=not quiet_rule)
    _count(batch.id, messages=len(ids), segments=len(ids) * analysis.segments, duplicates=given - len(unique),
           opted_out=len(opted))
    db().refresh(batch)
    out = batch_out(batch)
    audit.record("send", "sms-batch", batch.id, institution=inst,
                 after={k: out[k] for k in ("kind", "sender", "group", "messages", "segments", "deliver_after")})
    out["waits_for_quiet_hours"] = waits
    out["warnings"] = [warning] if warning else []
    if kind == "quick":
        out["recipients"] = [{"id": ids[n], "to": phone_out(n), "state": "queued"} for n in recipients if n in ids]
    return JSONResponse(out, status_code=201)


@router.post("/batches", status_code=201)
def create_batch(body: BatchIn):
    """Open a bulk batch; ``client_ref`` makes a resumed run find the batch it started."""
    inst = require_institution(body.institution).code
    try:
        template = validation.compile_template(body.template)
    except validation.TemplateError as exc:
        raise Problem(422, str(exc), errors=[{"field": "template", "message": str(exc)}]) from None
    if body.client_ref and not body.dry_run:
        existing = db().scalar(select(Batch).where(Batch.institution == inst, Batch.client_ref == body.client_ref))
        if existing is not None:
            return JSONResponse({**batch_out(existing), "resumed": True}, status_code=200)
    sender = resolve_sender(inst, body.sender)
    deliver_after, waits = delivery_time(body.at, quiet_rule=not body.allow_quiet_hours)
    price, currency = _price()
    if body.dry_run:
        return JSONResponse({"dry_run": True, "institution": inst, "sender": sender, "fields": template.fields,
                             "deliver_after": iso(deliver_after), "waits_for_quiet_hours": waits,
                             "price_per_segment": price, "currency": currency})
    batch = _new_batch(institution=inst, kind="bulk", sender=sender, text=body.template, group=None, at=body.at,
                       deliver_after=deliver_after, allow_quiet=body.allow_quiet_hours, normalize=body.normalize,
                       source=body.source, client_ref=body.client_ref)
    out = batch_out(batch)
    audit.record("create", "sms-batch", batch.id, institution=inst,
                 after={k: out[k] for k in ("kind", "sender", "source", "deliver_after")})
    return JSONResponse({**out, "waits_for_quiet_hours": waits, "resumed": False}, status_code=201)


@router.post("/batches/{batch_id}/recipients")
def add_recipients(batch_id: int, body: RecipientsIn):
    """One chunk of a bulk run: ``{"results": [{"line", "status", "id", "error"}]}`` where
    status is queued, duplicate, opted_out or failed."""
    batch = db().get(Batch, batch_id)
    if batch is None:
        raise not_found(f"batch {batch_id}")
    principal().check_write(batch.institution)
    if batch.kind != "bulk":
        raise Problem(409, f"batch {batch_id} is a {batch.kind} send; recipients can be added only to bulk batches")
    template = validation.compile_template(batch.text)
    fields = template.fields
    results: list[dict[str, Any]] = []
    prepared: list[tuple[int, str, str, encoding.Analysis]] = []
    invalid = 0
    for item in body.items:
        try:
            phone = validation.normalize_msisdn(item.to)
        except validation.InvalidNumber as exc:
            invalid += 1
            results.append({"line": item.line, "status": "failed", "error": f"invalid number {exc}"})
            continue
        missing = [f for f in fields if f not in item.fields]
        if missing:
            invalid += 1
            results.append({"line": item.line, "status": "failed", "error": f"no value for {', '.join(missing)}"})
            continue
        text = template.render(item.fields)
        if batch.normalize:
            text = encoding.normalize(text)
        problem, analysis = validation.measure(text)
        if problem:
            invalid += 1
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
    inserted = _insert_messages(batch, rows, quiet_ok=batch.allow_quiet_hours)
    segments = sum(r[3] for r in rows if r[0] in inserted)
    for line, phone in lines:
        if phone in inserted:
            results.append({"line": line, "status": "queued", "id": inserted[phone]})
        else:
            duplicates += 1
            results.append({"line": line, "status": "duplicate", "error": None})
    _count(batch.id, messages=len(inserted), segments=segments, duplicates=duplicates, opted_out=opted_count,
           invalid=invalid)
    audit.record("add-recipients", "sms-batch", batch.id, institution=batch.institution,
                 after={"rows": len(body.items), "queued": len(inserted), "duplicates": duplicates,
                        "opted_out": opted_count, "invalid": invalid})
    results.sort(key=lambda r: r["line"])
    # Straight to JSON: these answers are plain data, and a chunk has thousands of them.
    return JSONResponse({"results": results})
