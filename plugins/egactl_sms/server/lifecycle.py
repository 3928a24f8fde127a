"""Every change of a message's state, and the per-batch counts it keeps.

A batch's report (``sms report``) reads its counts from ``sms_batch_states``
(messages per batch and state) and ``sms_batch_reasons`` (messages per batch,
failure state and reason), never the messages themselves: one index range of a
few rows, whatever the size of the batch. The counts stay true because every
place that stores a message or changes its state goes through this module:

- ``stored`` for messages inserted (queued by a send, delivered by the seed);
- ``move`` for an ``UPDATE`` from one state to another (the worker's claims and
  outcomes, recovery, expiry, cancelling a message or a batch).

Both note the change in the session (``session.info``) and the counts are
written just before the transaction commits (a ``before_commit`` listener), in
the same transaction as the change: a rollback loses both; a commit keeps both.
Writing them last, in (batch, state) order, keeps the lock order of every
transaction the same (batch row, then messages, then counters), so concurrent
writers on PostgreSQL wait for each other but never deadlock. Each write is an
``INSERT … ON CONFLICT DO UPDATE SET messages = messages + n``: concurrent
transactions add, they never overwrite.

Failure reasons are counted only for the final failure states (failed,
rejected, expired), which a message never leaves; their key is a digest of the
reason's text (reasons quote gateway answers and can be long).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from sqlalchemy import event, select, update

from egactl_sms import rules
from egactl_sms.server.models import BatchReason, BatchState, Message

FAILURE_STATES = ("failed", "rejected", "expired")
_STATES = "egactl_sms.batch_states"
_REASONS = "egactl_sms.batch_reasons"
_LISTENING = "egactl_sms.counting"


def reason_key(reason: str | None) -> str:
    return hashlib.sha256((reason or "").encode("utf-8")).hexdigest()[:32]


def _pending(session) -> tuple[Counter, Counter]:
    info = session.info
    if not info.get(_LISTENING):
        event.listen(session, "before_commit", _write)
        event.listen(session, "after_rollback", _forget)
        info[_LISTENING] = True
    return info.setdefault(_STATES, Counter()), info.setdefault(_REASONS, Counter())


def stored(session, batch_id: int, n: int, *, state: str = "queued", reason: str | None = None) -> None:
    """``n`` new messages of ``batch_id`` were inserted in ``state`` (in this transaction)."""
    if n:
        states, reasons = _pending(session)
        states[(batch_id, state)] += n
        if state in FAILURE_STATES:
            reasons[(batch_id, state, reason)] += n


def move(session, *where: Any, source: str, target: str, values: dict[str, Any] | None = None,
         batch_id: int | None = None) -> int:
    """``UPDATE sms_messages SET state = target, **values WHERE *where AND state = source``;
    how many moved.

    ``batch_id``: the statement touches that one batch only (its ``where`` says so), so
    the row count is enough; otherwise each moved row's batch is read back (``RETURNING``).
    """
    values = dict(values or {})
    if target in FAILURE_STATES and not (values.get("reason") is None or isinstance(values["reason"], str)):
        raise TypeError("a failure's reason must be a plain text, to be counted")
    stmt = update(Message).where(*where, Message.state == source).values(state=target, **values) \
        .execution_options(synchronize_session=False)
    if batch_id is not None:
        moved = Counter({batch_id: session.execute(stmt).rowcount})
    else:
        moved = Counter(session.scalars(stmt.returning(Message.batch_id)))
    if not moved:
        return 0
    states, reasons = _pending(session)
    for batch, n in moved.items():
        if n:
            states[(batch, source)] -= n
            states[(batch, target)] += n
            if target in FAILURE_STATES:
                reasons[(batch, target, values.get("reason"))] += n
    return sum(moved.values())


def _write(session) -> None:
    states: Counter = session.info.pop(_STATES, Counter())
    reasons: Counter = session.info.pop(_REASONS, Counter())
    if not any(states.values()) and not any(reasons.values()):
        return
    from egactl_sms.server.service import dialect_insert

    insert = dialect_insert(session)
    rows = [{"batch_id": b, "state": s, "messages": n} for (b, s), n in sorted(states.items()) if n]
    if rows:
        stmt = insert(BatchState).values(rows)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["batch_id", "state"], set_={"messages": BatchState.messages + stmt.excluded.messages}))
    rows = [{"batch_id": b, "state": s, "reason_key": reason_key(r), "reason": r, "messages": n}
            for (b, s, r), n in sorted(reasons.items(), key=lambda kv: (kv[0][0], kv[0][1], reason_key(kv[0][2])))
            if n]
    if rows:
        stmt = insert(BatchReason).values(rows)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["batch_id", "state", "reason_key"],
            set_={"messages": BatchReason.messages + stmt.excluded.messages}))


def _forget(session) -> None:
    session.info.pop(_STATES, None)
    session.info.pop(_REASONS, None)


# -- reading ---------------------------------------------------------------------------------


def state_counts(session, batch_id: int) -> dict[str, int]:
    """Messages of a batch per state, as this transaction sees them (its own changes included)."""
    counts = dict(session.execute(select(BatchState.state, BatchState.messages)
                                  .where(BatchState.batch_id == batch_id)).all())
    for (b, s), n in session.info.get(_STATES, Counter()).items():
        if b == batch_id:
            counts[s] = counts.get(s, 0) + n
    return {s: counts.get(s, 0) for s in rules.STATES}


def commonest_reasons(session, batch_id: int, limit: int) -> list[tuple[str, str | None, int]]:
    """(state, reason, messages) of a batch's failures, most frequent first."""
    return [tuple(r) for r in session.execute(
        select(BatchReason.state, BatchReason.reason, BatchReason.messages)
        .where(BatchReason.batch_id == batch_id, BatchReason.messages > 0)
        .order_by(BatchReason.messages.desc(), BatchReason.state, BatchReason.reason_key).limit(limit))]

