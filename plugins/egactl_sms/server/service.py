"""What the sms routes and the delivery worker share: settings, look-ups that
check access, sender and time decisions, opt-outs, cancelling, and the SQL
helpers of the bulk path."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import func, select, update

from egactl.plugin.rules import RuleError, eat_zone, time_for_people
from egactl.plugin.server import backend, db, etag, invalid, not_found, principal, pseudonym
from egactl_sms import rules
from egactl_sms.server import lifecycle
from egactl_sms.server.models import Batch, Group, GroupMember, Message, OptOut, Sender

PLUGIN = "sms"
PSEUDONYM_PREFIX = "~"
"""Every pseudonym starts so (numbers start with +): a pseudonymised opt-out sorts after them all."""


def setting(key: str) -> Any:
    return backend().setting(PLUGIN, key)


def price() -> tuple[float, str]:
    """(price per segment, currency) for estimates and reports."""
    return float(setting("price_per_segment")), str(setting("currency"))


# -- SQL helpers ------------------------------------------------------------------------


def dialect_insert(session: Any = None):
    """``insert`` of the database in use, for ``ON CONFLICT`` clauses."""
    if (session or db()).get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def insert_ignoring_conflicts(table, index_elements: list[str]):
    """INSERT … ON CONFLICT DO NOTHING, for the database in use."""
    return dialect_insert()(table).on_conflict_do_nothing(index_elements=index_elements)


def insert_new(table, columns: list[str], rows: list[tuple], *, constants: dict[str, Any], conflict: list[str],
               returning: list[str]) -> list[tuple]:
    """Multi-row ``INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING …``: the rows
    that were new.

    The bulk path's hot spot. Per-row values (strings and integers) are bound
    as they are; values shared by every row (the batch, its delivery time…) go
    through their column type's bind processor once, in SQLAlchemy's own
    dialect-specific way. SQLAlchemy's executemany path converts every value of
    every row, which costs about twice as much per message.
    """
    conn = db().connection()
    dialect = conn.dialect
    shared = []
    for name, value in constants.items():
        process = table.c[name].type.bind_processor(dialect)
        shared.append(process(value) if process else value)
    quote = dialect.identifier_preparer.quote
    names = [*columns, *constants]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    one_row = "(" + ", ".join([mark] * len(names)) + ")"
    head = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({', '.join(quote(n) for n in names)}) "
            f"VALUES ")
    tail = (f" ON CONFLICT ({', '.join(quote(n) for n in conflict)}) DO NOTHING "
            f"RETURNING {', '.join(quote(n) for n in returning)}")
    per_statement = max(1, 30000 // len(names))  # SQLite binds at most 32,766 values per statement
    out: list[tuple] = []
    for i in range(0, len(rows), per_statement):
        part = rows[i:i + per_statement]
        params = tuple(v for row in part for v in (*row, *shared))
        out += [tuple(r) for r in conn.exec_driver_sql(head + ", ".join([one_row] * len(part)) + tail, params)]
    return out


def chunked(items: list, size: int = 500) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- numbers and opt-outs -----------------------------------------------------------------


def recipient_or_422(raw: str, field: str = "phone") -> str:
    """A number given in a request (a filter, an opt-out), or the 422 naming ``field``."""
    try:
        return rules.recipient(raw)
    except RuleError as exc:
        raise invalid(str(exc), field) from None


def optout_keys(number: str) -> list[str]:
    """How an opt-out of ``number`` may be stored: as the number, or — once the person's data
    was erased — as its pseudonym (worked out only if some opt-out is kept so: one index probe,
    which also means the pseudonyms' key exists, so a read-only request never has to make it)."""
    erased = db().scalar(select(OptOut.id).where(OptOut.phone >= PSEUDONYM_PREFIX).limit(1)) is not None
    return [number, pseudonym(number, db())] if erased else [number]


def optouts_among(institution: str, numbers: list[str]) -> set[str]:
    """The numbers that opted out of the institution's messages: by the number, or by its
    pseudonym (an opt-out is kept as the pseudonym when the person's data is erased).

    By number first, then — only if the institution keeps any opt-out as a pseudonym (one
    probe of its opt-outs' index) — the rest by pseudonym (a keyed hash each). In that
    order an erasure committing meanwhile cannot slip between the two: the row is found
    as the number before it, or by the probe and the pseudonym after it."""
    session = db()
    found: set[str] = set()
    for part in chunked(numbers):
        found.update(session.scalars(select(OptOut.phone).where(OptOut.institution == institution,
                                                                OptOut.phone.in_(part))))
    rest = [n for n in numbers if n not in found]
    if rest and session.scalar(select(OptOut.id).where(OptOut.institution == institution,
                                                       OptOut.phone >= PSEUDONYM_PREFIX).limit(1)) is not None:
        for part in chunked(rest):
            keyed = {pseudonym(n, session): n for n in part}
            found.update(keyed[p] for p in session.scalars(select(OptOut.phone).where(
                OptOut.institution == institution, OptOut.phone.in_(list(keyed)))))
    return found


# -- look-ups that check access -------------------------------------------------------------


def get_sender(name: str) -> Sender:
    row = db().scalar(select(Sender).where(Sender.name_key == rules.sender_key(name.strip())))
    if row is None:
        raise not_found(f"sender ID {name}")
    principal().check_read(row.institution)
    return row


def get_group(institution: str, name: str, *, write: bool = False) -> Group:
    code = institution.upper()
    if write:
        principal().check_write(code)
    else:
        principal().check_read(code)
    row = db().scalar(select(Group).where(Group.institution == code, Group.name == name))
    if row is None:
        raise not_found(f"group {name!r} of {code}")
    # A change to the group or its members: lock it and hold the If-Match against it.
    return etag.guard(row, f"group {name!r} of {code}") if write else row


def member_count(group_id: int) -> int:
    return db().scalar(select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group_id)) or 0


def _owned(model: Any, key: int, noun: str, write: bool) -> Any:
    row = db().get(model, key)
    if row is None:
        raise not_found(f"{noun} {key}")
    if write:
        principal().check_write(row.institution)
    else:
        principal().check_read(row.institution)
    return row


def get_batch(batch_id: int, *, write: bool = False) -> Batch:
    return _owned(Batch, batch_id, "batch", write)


def get_message(message_id: int, *, write: bool = False) -> Message:
    return _owned(Message, message_id, "message", write)


def sender_of(batch_id: int) -> str | None:
    return db().scalar(select(Batch.sender).where(Batch.id == batch_id))


# -- senders --------------------------------------------------------------------------


def resolve_sender(institution: str, name: str | None) -> str:
    """The approved sender ID to send from: the one named, or the institution's only one."""
    if name:
        if problem := rules.check_sender_id(name):
            raise invalid(problem, "sender")
        row = db().scalar(select(Sender).where(Sender.name_key == rules.sender_key(name)))
        if row is None or row.institution != institution:
            raise invalid(f"sender ID {name} is not registered for {institution}; "
                          f"request it with `egactl sms senders request`", "sender")
        if row.status == "withdrawn":
            raise invalid(f"sender ID {row.name} is not approved for use (withdrawn by {row.institution}); "
                          f"request a new one with `egactl sms senders request`", "sender")
        if row.status != "approved":
            raise invalid(f"sender ID {row.name} is not approved for use ({row.status}); "
                          f"an e-GA administrator must approve it first", "sender")
        return row.name
    approved = list(db().scalars(select(Sender.name).where(Sender.institution == institution,
                                                            Sender.status == "approved").order_by(Sender.name)))
    if not approved:
        raise invalid(f"{institution} has no approved sender ID; request one with `egactl sms senders request`",
                      "sender")
    if len(approved) > 1:
        raise invalid(f"{institution} has several approved sender IDs ({', '.join(approved)}); choose one with --from",
                      "sender")
    return approved[0]


# -- time -------------------------------------------------------------------------------


def delivery_time(at: dt.datetime | None, *, quiet_rule: bool) -> tuple[dt.datetime, bool]:
    """(when delivery may start, whether quiet hours pushed it back).

    ``at`` in the past is refused (exit 2 in the CLI); a naive ``at`` is East
    Africa Time. Bulk and group sends (``quiet_rule``) wait out 21:00-07:00 EAT.
    """
    now = backend().now()
    if at is not None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=eat_zone())
        if at <= now:
            raise invalid(f"the scheduled time {time_for_people(at)} is in the past "
                          f"(it is now {time_for_people(now)})", "at")
    start = (at or now).astimezone(dt.timezone.utc)
    if not quiet_rule:
        return start, False
    release = rules.after_quiet_hours(start)
    return release, release != start


# -- cancelling ---------------------------------------------------------------------------


def state_counts(batch_id: int) -> dict[str, int]:
    """A batch's messages per state, from its counters (see ``lifecycle``)."""
    return lifecycle.state_counts(db(), batch_id)


def cancel_batch_messages(batch: Batch, *, reason: str) -> tuple[int, int]:
    """In the caller's transaction: mark the batch cancelled, cancel its queued messages;
    (cancelled now, handed to the gateway and left alone).

    Race-free against the delivery worker: the cancel is one ``UPDATE … WHERE
    state = 'queued'``. On PostgreSQL the worker claims with ``SELECT … FOR
    UPDATE SKIP LOCKED``, so a message is either claimed first (the cancel waits
    for that commit, then finds it no longer queued) or cancelled first (the
    worker skips the locked row and finds it no longer queued); SQLite runs one
    writer at a time.
    """
    now = backend().now()
    # The batch first: this takes its row, so a recipients chunk still being stored either
    # committed before (and its messages are cancelled below) or finds the batch cancelled.
    db().execute(update(Batch).where(Batch.id == batch.id, Batch.cancelled_at.is_(None))
                 .values(cancelled_at=now, cancelled_by=principal().subject))
    cancelled = lifecycle.move(db(), Message.batch_id == batch.id, source="queued", target="cancelled",
                               values={"reason": reason, "claim": None, "claimed_at": None}, batch_id=batch.id)
    states = state_counts(batch.id)
    handed = sum(states[s] for s in rules.HANDED_OVER)
    db().refresh(batch)
    return cancelled, handed


# -- what an institution holds --------------------------------------------------------------


def holdings(session, institution: str) -> dict[str, int]:
    """Sender IDs, contact groups, opt-outs, messages not yet handed to the gateway,
    and the batches already sent (kept as the institution's SMS history)."""

    def count(model, *where) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.institution == institution, *where))

    return {"SMS senders": count(Sender), "contact groups": count(Group), "opt-outs": count(OptOut),
            "queued messages": count(Message, Message.state.in_(("queued", "submitting"))),
            "SMS batches (history)": count(Batch)}
