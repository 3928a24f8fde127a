"""Sending: quick and group sends (POST /messages), bulk batches and their
recipient chunks (POST /batches, POST /batches/{id}/recipients).

Everything a send needs is decided here, in the request's one transaction:
numbers validated and de-duplicated, opt-outs skipped, the text normalised and
measured, delivery time fixed (scheduling, quiet hours). The messages are
stored ``queued``; the delivery worker takes it from there.

A bulk chunk is inserted with ``INSERT … ON CONFLICT DO NOTHING`` on (batch,
recipient): a number seen in an earlier chunk — or in the same chunk sent
again after a lost response — is answered ``duplicate`` and costs nothing.

The same campaign is not sent twice: a bulk batch (given the file's digest)
and a group send claim their *identity* — what they send — in
``sms_send_guards`` in the transaction that creates them. An identical send is
refused (409, naming the earlier batch and its counts) unless the request says
``again``; for a group the refusal holds for 24 hours. A restarted bulk run
(``replaces``) cancels what the interrupted batch had not yet handed to the
gateway and takes its identity over, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import or_, select, update

from egactl.plugin.server import ApiRoute, Problem, audit, backend, db, not_found, principal, require_institution
from egactl_sms import encoding, validation
from egactl_sms.backend.cancelling import cancel_batch_messages, state_counts
from egactl_sms.backend.common import (batch_out, delivery_time, insert_new, iso, optouts_among, phone_out,
                                       resolve_sender, setting)
from egactl_sms.backend.groups import get_group
from egactl_sms.backend.models import Batch, GroupMember, Message, SendGuard

router = APIRouter(route_class=ApiRoute, tags=["sms"])

MAX_CHUNK = 5000
DRY_RUN_LISTED = 1000
GROUP_WINDOW = dt.timedelta(hours=24)
"""An identical group send (same group, text, sender) within this time is refused unless ``again``."""


class SendIn(BaseModel):
    institution: str
    text: str = Field(max_length=5000)
    to: list[str] | None = Field(default=None, max_length=validation.MAX_QUICK_RECIPIENTS)
    group: str | None = None
    sender: str | None = None
    at: dt.datetime | None = None
    allow_quiet_hours: bool = False
    normalize: bool = False
    again: bool = Field(default=False, description="Send even if the same group was sent the same text from the "
                                                   "same sender in the last 24 hours.")
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
    digest: str | None = Field(default=None, pattern="^[0-9a-f]{64}$",
                               description="SHA-256 of the recipient file's content. With it, a batch that sends "
                                           "what an earlier one sent (same sender, template, file and schedule) "
                                           "is refused with 409 unless `again` is true.")
    again: bool = Field(default=False, description="Open the batch even if an identical one was sent before.")
    replaces: str | None = Field(default=None, max_length=100,
                                 description="client_ref of an interrupted batch this one restarts: its messages "
                                             "not yet handed to a gateway are cancelled, in the same transaction.")
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


def _identity(*parts: Any) -> str:
    """What a send sends, as a digest: the key of its guard."""
    return hashlib.sha256(json.dumps(parts, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def _blocking_guard(institution: str, identity: str, *, again: bool, window: dt.timedelta | None,
                    replaces: int | None) -> SendGuard | None:
    """The guard that would refuse this send now (for dry runs; the real claim is ``_claim``)."""
    if again:
        return None
    guard = db().scalar(select(SendGuard).where(SendGuard.institution == institution, SendGuard.identity == identity))
    if guard is None or guard.batch_id == replaces:
        return None
    if window is not None and guard.created_at <= backend().now() - window:
        return None
    return guard


def _claim(batch: Batch, identity: str, *, again: bool, window: dt.timedelta | None, replaces: int | None,
           what: str) -> None:
    """Make ``batch`` the sender of ``identity``, or refuse with 409 naming the earlier batch.

    One ``INSERT … ON CONFLICT DO UPDATE … WHERE``: the database decides, so of
    two identical sends started at once exactly one wins (on PostgreSQL the
    second waits for the first to commit, then finds its row).
    """
    if db().get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = SendGuard.__table__
    now = backend().now()
    stmt = insert(table).values(institution=batch.institution, identity=identity, batch_id=batch.id, created_at=now)
    may: list[Any] = []
    if window is not None:
        may.append(table.c.created_at <= now - window)
    if replaces is not None:
        may.append(table.c.batch_id == replaces)
    if again:
        stmt = stmt.on_conflict_do_update(index_elements=["institution", "identity"],
                                          set_={"batch_id": batch.id, "created_at": now})
    elif may:
        stmt = stmt.on_conflict_do_update(index_elements=["institution", "identity"],
                                          set_={"batch_id": batch.id, "created_at": now}, where=or_(*may))
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["institution", "identity"])
    if db().execute(stmt.returning(table.c.batch_id)).first() is None:
        earlier = db().scalar(select(SendGuard.batch_id).where(SendGuard.institution == batch.institution,
                                                               SendGuard.identity == identity))
        raise _duplicate(earlier, what)


def _earlier(batch_id: int) -> dict[str, Any]:
    b = db().get(Batch, batch_id)
    assert b is not None
    states = state_counts(b.id)
    return {"batch": b.id, "kind": b.kind, "created_at": iso(b.created_at), "created_by": b.created_by,
            "messages": b.messages, "states": {s: n for s, n in states.items() if n},
            "cancelled": b.cancelled_at is not None}


def _describe(earlier: dict[str, Any]) -> str:
    states = ", ".join(f"{n} {s}" for s, n in earlier["states"].items()) or "no messages yet"
    return (f"batch {earlier['batch']}, {validation.format_eat(earlier['created_at'])} "
            f"({earlier['messages']} message{'s' if earlier['messages'] != 1 else ''}: {states})")


def _duplicate(batch_id: int | None, what: str) -> Problem:
    if batch_id is None:  # the earlier send was rolled back meanwhile: the caller may simply retry
        return Problem(409, f"{what} is being sent by another request right now; try again",
                       headers={"Retry-After": "1"})
    earlier = _earlier(batch_id)
    return Problem(409, f"{what} was already sent as {_describe(earlier)}; to send it again on purpose, "
                        f"repeat the request with again: true", duplicate_of=earlier)


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
    identity = _identity("group", group.name, text, sender) if kind == "group" else None
    what = f"this message to group {body.group!r}"
    if body.dry_run:
        total = analysis.segments * len(recipients)
        blocking = identity and _blocking_guard(inst, identity, again=body.again, window=GROUP_WINDOW, replaces=None)
        return JSONResponse({
            "duplicate_of": _earlier(blocking.batch_id) if blocking else None,
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
    if identity:
        _claim(batch, identity, again=body.again, window=GROUP_WINDOW, replaces=None, what=what)
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
    """Open a bulk batch; ``client_ref`` makes a resumed run find the batch it started.

    With ``digest``, a batch identical to an earlier one (same sender, template,
    file content and schedule) is refused with 409 (``duplicate_of`` names the
    earlier batch and its counts) unless ``again``; ``replaces`` restarts an
    interrupted batch (its unsent messages are cancelled, in this transaction).
    """
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
    replaced = None
    if body.replaces:
        replaced = db().scalar(select(Batch).where(Batch.institution == inst, Batch.client_ref == body.replaces))
    identity = None
    if body.digest:
        scheduled = body.at.astimezone(dt.timezone.utc).isoformat() if body.at else None
        identity = _identity("bulk", sender, body.template, body.digest, scheduled)
    what = "this campaign (the same sender, template, recipient file and schedule)"
    if body.dry_run:
        blocking = identity and _blocking_guard(inst, identity, again=body.again, window=None,
                                                replaces=replaced.id if replaced else None)
        return JSONResponse({"dry_run": True, "institution": inst, "sender": sender, "fields": template.fields,
                             "deliver_after": iso(deliver_after), "waits_for_quiet_hours": waits,
                             "price_per_segment": price, "currency": currency,
                             "duplicate_of": _earlier(blocking.batch_id) if blocking else None})
    batch = _new_batch(institution=inst, kind="bulk", sender=sender, text=body.template, group=None, at=body.at,
                       deliver_after=deliver_after, allow_quiet=body.allow_quiet_hours, normalize=body.normalize,
                       source=body.source, client_ref=body.client_ref)
    if identity:
        _claim(batch, identity, again=body.again, window=None, replaces=replaced.id if replaced else None, what=what)
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
    return JSONResponse({**out, "waits_for_quiet_hours": waits, "resumed": False, "restarted": restarted},
                        status_code=201)


def _cancelled(batch: Batch) -> Problem:
    return Problem(409, f"batch {batch.id} was cancelled ({validation.format_eat(batch.cancelled_at)}, by "
                        f"{batch.cancelled_by}); nothing more can be added to it", cancelled=True, batch=batch.id)


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
    if batch.cancelled_at is not None:
        raise _cancelled(batch)
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
    # The last write, and a check: if the batch was cancelled since it was read above, the
    # whole chunk is rolled back. (On PostgreSQL this UPDATE waits for a cancel holding the
    # batch's row and then sees it; a cancel that comes later waits for this commit and
    # then cancels these messages too.)
    still_open = db().execute(
        update(Batch).where(Batch.id == batch.id, Batch.cancelled_at.is_(None)).values(
            messages=Batch.messages + len(inserted), segments=Batch.segments + segments,
            duplicates=Batch.duplicates + duplicates, opted_out=Batch.opted_out + opted_count,
            invalid=Batch.invalid + invalid)).rowcount
    if not still_open:
        db().refresh(batch)
        raise _cancelled(batch)
    audit.record("add-recipients", "sms-batch", batch.id, institution=batch.institution,
                 after={"rows": len(body.items), "queued": len(inserted), "duplicates": duplicates,
                        "opted_out": opted_count, "invalid": invalid})
    results.sort(key=lambda r: r["line"])
    # Straight to JSON: these answers are plain data, and a chunk has thousands of them.
    return JSONResponse({"results": results})
