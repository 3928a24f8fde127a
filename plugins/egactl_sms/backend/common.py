"""What the sms routes share: scoping, masking, serialisation, sender and time rules."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import select

from egactl.plugin.server import Problem, backend, db, mask_name, mask_phone, principal
from egactl_sms import validation
from egactl_sms.backend.models import Batch, Message, OptOut, Sender

PLUGIN = "sms"


def setting(key: str) -> Any:
    return backend().setting(PLUGIN, key)


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def masked() -> bool:
    return principal().masks_personal_data


def phone_out(number: str | None) -> str | None:
    return mask_phone(number) if masked() else number


def name_out(name: str | None) -> str | None:
    return mask_name(name) if masked() else name


def text_out(text: str | None) -> str | None:
    """The help desk sees states and times, never what was written to a citizen."""
    return None if masked() else text


def insert_ignoring_conflicts(table, index_elements: list[str]):
    """INSERT … ON CONFLICT DO NOTHING, for the database in use."""
    if db().get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


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


def normalize_or_422(raw: str, field: str = "phone") -> str:
    try:
        return validation.normalize_msisdn(raw)
    except validation.InvalidNumber as exc:
        raise Problem(422, f"invalid number {exc}", errors=[{"field": field, "message": str(exc)}]) from None


def optouts_among(institution: str, numbers: list[str]) -> set[str]:
    found: set[str] = set()
    for part in chunked(numbers):
        found.update(db().scalars(select(OptOut.phone).where(OptOut.institution == institution,
                                                             OptOut.phone.in_(part))))
    return found


# -- senders --------------------------------------------------------------------------


def resolve_sender(institution: str, name: str | None) -> str:
    """The approved sender ID to send from: the one named, or the institution's only one."""
    if name:
        if problem := validation.check_sender_id(name):
            raise Problem(422, problem, errors=[{"field": "sender", "message": problem}])
        row = db().scalar(select(Sender).where(Sender.name_key == validation.sender_key(name)))
        if row is None or row.institution != institution:
            raise Problem(422, f"sender ID {name} is not registered for {institution}; "
                               f"request it with `egactl sms senders request`",
                          errors=[{"field": "sender", "message": "not registered"}])
        if row.status != "approved":
            raise Problem(422, f"sender ID {row.name} is not approved for use ({row.status}); "
                               f"an e-GA administrator must approve it first",
                          errors=[{"field": "sender", "message": f"status {row.status}"}])
        return row.name
    approved = list(db().scalars(select(Sender.name).where(Sender.institution == institution,
                                                            Sender.status == "approved").order_by(Sender.name)))
    if not approved:
        raise Problem(422, f"{institution} has no approved sender ID; request one with `egactl sms senders request`",
                      errors=[{"field": "sender", "message": "none approved"}])
    if len(approved) > 1:
        raise Problem(422, f"{institution} has several approved sender IDs ({', '.join(approved)}); choose one with --from",
                      errors=[{"field": "sender", "message": "ambiguous"}])
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
            at = at.replace(tzinfo=validation.eat_zone())
        if at <= now:
            raise Problem(422, f"the scheduled time {validation.format_eat(at)} is in the past "
                               f"(it is now {validation.format_eat(now)})",
                          errors=[{"field": "at", "message": "in the past"}])
    start = (at or now).astimezone(dt.timezone.utc)
    if not quiet_rule:
        return start, False
    release = validation.after_quiet_hours(start)
    return release, release != start


# -- serialisation ---------------------------------------------------------------------


def sender_out(s: Sender) -> dict[str, Any]:
    return {"name": s.name, "institution": s.institution, "status": s.status, "purpose": s.purpose,
            "requested_by": s.requested_by, "requested_at": iso(s.requested_at), "decided_by": s.decided_by,
            "decided_at": iso(s.decided_at), "decision_note": s.decision_note, "version": s.version}


def batch_out(b: Batch) -> dict[str, Any]:
    return {
        "id": b.id, "kind": b.kind, "institution": b.institution, "sender": b.sender,
        "text": text_out(b.text), "group": b.group_name, "source": b.source,
        "normalize": b.normalize, "allow_quiet_hours": b.allow_quiet_hours,
        "scheduled_at": iso(b.scheduled_at), "deliver_after": iso(b.deliver_after),
        "created_by": b.created_by, "created_at": iso(b.created_at),
        "messages": b.messages, "segments": b.segments,
        "skipped": {"duplicate": b.duplicates, "opted_out": b.opted_out, "invalid": b.invalid},
        "price_per_segment": b.price_per_segment, "currency": b.currency,
        "estimated_cost": round(b.segments * b.price_per_segment, 2),
        "cancelled_at": iso(b.cancelled_at), "cancelled_by": b.cancelled_by,
    }


def message_out(m: Message, sender: str | None = None) -> dict[str, Any]:
    return {
        "id": m.id, "batch": m.batch_id, "institution": m.institution, "to": phone_out(m.recipient),
        "sender": sender, "state": m.state, "reason": m.reason, "text": text_out(m.body),
        "encoding": m.encoding, "segments": m.segments, "line": m.line,
        "deliver_after": iso(m.deliver_after), "created_at": iso(m.created_at),
        "submitted_at": iso(m.submitted_at), "delivered_at": iso(m.delivered_at),
        "attempts": m.attempts, "gateway_ref": m.gateway_ref,
    }
