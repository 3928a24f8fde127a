"""Sending: what a quick, group or bulk send stores, in the request's one
transaction, and the guard that keeps the same campaign from being sent twice.

The routes (``routes/messages.py``: quick and group sends; ``routes/batches.py``:
bulk batches and their recipient chunks) decide everything here: numbers
validated and de-duplicated, opt-outs skipped, the text normalised and measured,
delivery time fixed (scheduling, quiet hours). The messages are stored
``queued``; the delivery worker takes it from there.

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

from sqlalchemy import or_, select, update

from egactl.plugin.rules import time_for_people
from egactl.plugin.server import Problem, backend, db, invalid, iso, principal
from egactl_sms import encoding, rules
from egactl_sms.server import lifecycle
from egactl_sms.server.models import Batch, Message, SendGuard
from egactl_sms.server.service import dialect_insert, insert_new, price, state_counts

DRY_RUN_LISTED = 1000
GROUP_WINDOW = dt.timedelta(hours=24)
"""An identical group send (same group, text, sender) within this time is refused unless ``again``."""


def prepare_text(text: str, normalize: bool) -> tuple[str, encoding.Analysis]:
    if normalize:
        text = encoding.normalize(text)
    problem, analysis = rules.measure(text)
    if problem:
        raise invalid(problem, "text")
    return text, analysis


def new_batch(*, institution: str, kind: str, sender: str, text: str, group: str | None, at: dt.datetime | None,
              deliver_after: dt.datetime, allow_quiet: bool, normalize: bool, source: str | None = None,
              client_ref: str | None = None) -> Batch:
    per_segment, currency = price()
    batch = Batch(institution=institution, kind=kind, sender=sender, text=text, group_name=group, source=source,
                  client_ref=client_ref, normalize=normalize, allow_quiet_hours=allow_quiet,
                  scheduled_at=at.astimezone(dt.timezone.utc) if at else None, deliver_after=deliver_after,
                  price_per_segment=per_segment, currency=currency, created_by=principal().subject,
                  created_at=backend().now(), messages=0, segments=0, duplicates=0, opted_out=0, invalid=0)
    db().add(batch)
    db().flush()
    return batch


MESSAGE_COLUMNS = ["recipient", "body", "encoding", "segments", "line"]


def insert_messages(batch: Batch, rows: list[tuple], *, quiet_ok: bool) -> dict[str, int]:
    """Queue (recipient, text, encoding, segments, line) rows; {recipient: id} of those
    new to the batch (a recipient already in it is left alone)."""
    if not rows:
        return {}
    constants = {"batch_id": batch.id, "institution": batch.institution, "state": "queued", "quiet_ok": quiet_ok,
                 "deliver_after": batch.deliver_after, "created_at": backend().now(), "attempts": 0}
    new = dict(insert_new(Message.__table__, MESSAGE_COLUMNS, rows, constants=constants,
                          conflict=["batch_id", "recipient"], returning=["recipient", "id"]))
    lifecycle.stored(db(), batch.id, len(new))
    return new


def add_to_totals(batch_id: int, **increments: int) -> None:
    """Add to a batch's totals in SQL, so concurrent chunks never lose an update."""
    values = {k: getattr(Batch, k) + v for k, v in increments.items() if v}
    if values:
        db().execute(update(Batch).where(Batch.id == batch_id).values(**values))


def identity_of(*parts: Any) -> str:
    """What a send sends, as a digest: the key of its guard."""
    return hashlib.sha256(json.dumps(parts, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def blocking_guard(institution: str, identity: str, *, again: bool, window: dt.timedelta | None,
                   replaces: int | None) -> SendGuard | None:
    """The guard that would refuse this send now (for dry runs; the real claim is ``claim``)."""
    if again:
        return None
    guard = db().scalar(select(SendGuard).where(SendGuard.institution == institution, SendGuard.identity == identity))
    if guard is None or guard.batch_id == replaces:
        return None
    if window is not None and guard.created_at <= backend().now() - window:
        return None
    return guard


def claim(batch: Batch, identity: str, *, again: bool, window: dt.timedelta | None, replaces: int | None,
          what: str) -> None:
    """Make ``batch`` the sender of ``identity``, or refuse with 409 naming the earlier batch.

    One ``INSERT … ON CONFLICT DO UPDATE … WHERE``: the database decides, so of
    two identical sends started at once exactly one wins (on PostgreSQL the
    second waits for the first to commit, then finds its row).
    """
    insert = dialect_insert()
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
        raise duplicate_problem(earlier, what)


def earlier_batch(batch_id: int) -> dict[str, Any]:
    b = db().get(Batch, batch_id)
    assert b is not None
    states = state_counts(b.id)
    return {"batch": b.id, "kind": b.kind, "created_at": iso(b.created_at), "created_by": b.created_by,
            "messages": b.messages, "states": {s: n for s, n in states.items() if n},
            "cancelled": b.cancelled_at is not None}


def describe_batch(earlier: dict[str, Any]) -> str:
    states = ", ".join(f"{n} {s}" for s, n in earlier["states"].items()) or "no messages yet"
    return (f"batch {earlier['batch']}, {time_for_people(earlier['created_at'])} "
            f"({earlier['messages']} message{'s' if earlier['messages'] != 1 else ''}: {states})")


def duplicate_problem(batch_id: int | None, what: str) -> Problem:
    if batch_id is None:  # the earlier send was rolled back meanwhile: the caller may simply retry
        return Problem(409, f"{what} is being sent by another request right now; try again",
                       headers={"Retry-After": "1"})
    earlier = earlier_batch(batch_id)
    return Problem(409, f"{what} was already sent as {describe_batch(earlier)}; to send it again on purpose, "
                        f"repeat the request with again: true", duplicate_of=earlier)


def cancelled_problem(batch: Batch) -> Problem:
    return Problem(409, f"batch {batch.id} was cancelled ({time_for_people(batch.cancelled_at)}, by "
                        f"{batch.cancelled_by}); nothing more can be added to it", cancelled=True, batch=batch.id)


