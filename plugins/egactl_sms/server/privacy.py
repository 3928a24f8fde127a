"""sms's part of a data subject's request (``egactl privacy``) and its retention.

What sms keeps about a person known by a phone number: the messages sent to it
(number, text, state), its opt-outs (number, reason), its contact-group
memberships (number, name), and the sandbox outbox's copy of what was sent.

- ``report``: all of it, of the institutions the caller may read, unmasked —
  also what is already kept as the number's pseudonym (an erased opt-out).
- ``erase``: now, in the request's transaction: the number leaves every contact
  group; its messages still queued are cancelled; every message and outbox entry
  keeps its state, cost and counts but its number becomes the pseudonym and its
  text is dropped (and so is the text of a quick send to it); an opt-out is kept
  as the pseudonym, without its reason, so the person stays opted out (the send
  path looks opt-outs up by number and by pseudonym: ``service.optouts_among``).
- ``RETENTION``: numbers and texts of messages (and of the outbox) 12 months after
  delivery, and the texts of sends and bulk templates 12 months after the send,
  the same way. Each run reads only what it changes: partial indexes hold the rows
  that still keep a number (``recipient < '~'``) or a text (``text <> ''``).

Opt-outs are not subject to retention: they are kept while in force, as the
person asked. Nothing here writes an audit entry (the core audits the request).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from sqlalchemy import bindparam, delete, literal_column, select, update

from egactl.plugin import Retention
from egactl.plugin.server import Subject, backend, db, etag, forbidden, iso, pagination, principal, visible
from egactl_sms.server import lifecycle, names
from egactl_sms.server.models import Batch, Group, GroupMember, Message, OptOut, OutboxEntry

YEAR = 365
ERASED = "cancelled: the recipient's personal data was erased"
IN_FLIGHT = ("queued", "submitting")
"""Messages the delivery worker still works on: retention leaves them to it."""
BATCH = 500
"""Rows per statement of a retention run."""


def unexpired(column: Any) -> Any:
    """``column < '~'``, with the constant written out, so that the partial index
    (``WHERE recipient < '~'``) is seen to cover the query."""
    return column < literal_column("'~'")


def kept_text(column: Any) -> Any:
    return column != literal_column("''")


# -- report ---------------------------------------------------------------------------------


def report(subject: Subject) -> list[dict[str, Any]]:
    if not subject.phone:
        return []
    if principal().masks_personal_data:
        raise forbidden("a subject's report shows personal data unmasked: an admin or the institution's operator")
    keys = [subject.phone, subject.pseudonym]
    items: list[dict[str, Any]] = []
    stmt = (select(Message, Batch.sender).join(Batch, Batch.id == Message.batch_id)
            .where(Message.recipient.in_(keys)))
    for m, sender in db().execute(visible(stmt, Message.institution).order_by(Message.created_at, Message.id)):
        items.append(_item("message", str(m.id), m.institution, {
            "to": m.recipient, "from": sender, "text": m.body or None, "state": m.state, "reason": m.reason,
            "segments": m.segments, "batch": m.batch_id, "queued_at": iso(m.created_at),
            "submitted_at": iso(m.submitted_at), "delivered_at": iso(m.delivered_at)}))
    for o in db().scalars(visible(select(OptOut).where(OptOut.phone.in_(keys)), OptOut.institution)
                          .order_by(OptOut.id)):
        items.append(_item("opt-out", f"{o.institution}/{o.phone}", o.institution, {
            "phone": o.phone, "reason": o.reason, "since": iso(o.created_at)}))
    stmt = (select(GroupMember, Group.name, Group.institution).join(Group, Group.id == GroupMember.group_id)
            .where(GroupMember.phone == subject.phone))
    for member, group, institution in db().execute(visible(stmt, Group.institution).order_by(GroupMember.id)):
        items.append(_item("group member", f"{institution}/{group}", institution, {
            "group": group, "phone": member.phone, "name": member.name, "added_at": iso(member.added_at)}))
    for o in db().scalars(visible(select(OutboxEntry).where(OutboxEntry.recipient.in_(keys)), OutboxEntry.institution)
                          .order_by(OutboxEntry.id)):
        items.append(_item("outbox entry", str(o.id), o.institution, {
            "to": o.recipient, "from": o.sender, "text": o.body or None, "message": o.message_id,
            "sent_at": iso(o.sent_at)}))
    return items


def _item(kind: str, reference: str, institution: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "reference": reference, "institution": institution, "data": data}


# -- erase ----------------------------------------------------------------------------------


def erase(subject: Subject) -> dict[str, int]:
    if not subject.phone:
        return {}
    phone, pseudonym = subject.phone, subject.pseudonym
    session = db()
    codes = principal().visible_institutions()

    def theirs(column: Any) -> list[Any]:
        return [] if codes is None else [column.in_(codes)]

    group_ids = sorted(set(session.scalars(
        select(GroupMember.group_id).join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.phone == phone, *theirs(Group.institution)))))
    removed = 0
    if group_ids:
        names.forget(session, GroupMember.phone == phone, GroupMember.group_id.in_(group_ids))
        removed = session.execute(delete(GroupMember).where(GroupMember.phone == phone,
                                                            GroupMember.group_id.in_(group_ids))).rowcount
        now = backend().now()
        for group in session.scalars(select(Group).where(Group.id.in_(group_ids))):
            group.updated_at = now
            etag.touch(group)  # its members changed: a new ETag
    cancelled = lifecycle.move(session, Message.recipient == phone, *theirs(Message.institution), source="queued",
                               target="cancelled", values={"reason": ERASED, "claim": None, "claimed_at": None})
    quick = sorted(set(session.scalars(
        select(Message.batch_id).join(Batch, Batch.id == Message.batch_id)
        .where(Message.recipient == phone, Batch.kind == "quick", kept_text(Batch.text),
               *theirs(Message.institution)))))
    texts = session.execute(update(Batch).where(Batch.id.in_(quick)).values(text="")).rowcount if quick else 0
    messages = session.execute(update(Message).where(Message.recipient == phone, *theirs(Message.institution))
                               .values(recipient=pseudonym, body="")).rowcount
    outbox = session.execute(update(OutboxEntry).where(OutboxEntry.recipient == phone,
                                                       *theirs(OutboxEntry.institution))
                             .values(recipient=pseudonym, body="")).rowcount
    kept = 0
    for optout in session.scalars(select(OptOut).where(OptOut.phone == phone, *theirs(OptOut.institution))):
        already = session.scalar(select(OptOut.id).where(OptOut.institution == optout.institution,
                                                         OptOut.phone == pseudonym))
        if already is not None:  # opted out again after an earlier erasure: one opt-out is enough
            session.delete(optout)
        else:
            optout.phone, optout.reason = pseudonym, None
        kept += 1
    session.flush()
    counts = {"group memberships removed": removed, "queued messages cancelled": cancelled,
              "messages pseudonymised": messages, "quick-send texts dropped": texts,
              "opt-outs kept as pseudonyms": kept, "outbox entries pseudonymised": outbox}
    return {what: n for what, n in counts.items() if n}


# -- retention ------------------------------------------------------------------------------


def _due_messages(cutoff: dt.datetime) -> list[Any]:
    return [unexpired(Message.recipient), Message.deliver_after < cutoff, Message.state.notin_(IN_FLIGHT)]


def _due_outbox(cutoff: dt.datetime) -> list[Any]:
    return [unexpired(OutboxEntry.recipient), OutboxEntry.sent_at < cutoff]


def _due_texts(cutoff: dt.datetime) -> list[Any]:
    return [kept_text(Batch.text), Batch.created_at < cutoff]


def _pseudonymise(session: Any, model: Any, order: Any, where: list[Any], pseudonym: Callable[[str], str],
                  limit: int) -> int:
    """The oldest ``limit`` rows of ``model`` matching ``where``: number → pseudonym, text dropped."""
    rows = session.execute(select(model.id, model.recipient).where(*where).order_by(order, model.id)
                           .limit(limit)).all()
    if not rows:
        return 0
    table = model.__table__
    stmt = table.update().where(table.c.id == bindparam("row_id")).values(recipient=bindparam("pseudonym"), body="")
    for i in range(0, len(rows), BATCH):
        session.execute(stmt, [{"row_id": r.id, "pseudonym": pseudonym(r.recipient)} for r in rows[i:i + BATCH]])
    return len(rows)


def expire_messages(session: Any, cutoff: dt.datetime, pseudonym: Callable[[str], str], limit: int) -> int:
    return _pseudonymise(session, Message, Message.deliver_after, _due_messages(cutoff), pseudonym, limit)


def expire_outbox(session: Any, cutoff: dt.datetime, pseudonym: Callable[[str], str], limit: int) -> int:
    return _pseudonymise(session, OutboxEntry, OutboxEntry.sent_at, _due_outbox(cutoff), pseudonym, limit)


def expire_texts(session: Any, cutoff: dt.datetime, pseudonym: Callable[[str], str], limit: int) -> int:
    ids = session.scalars(select(Batch.id).where(*_due_texts(cutoff)).order_by(Batch.created_at, Batch.id)
                          .limit(limit)).all()
    for i in range(0, len(ids), BATCH):
        session.execute(update(Batch).where(Batch.id.in_(ids[i:i + BATCH])).values(text=""))
    return len(ids)


def _count(model: Any, where: list[Any]) -> Callable[[Any, dt.datetime], int]:
    return lambda session, cutoff: pagination.count_up_to(session, select(model.id).where(*where(cutoff)))


RETENTION = (
    Retention("messages", "SMS numbers and message texts", YEAR, "after delivery (from the time it was due to go)",
              expire_messages, _count(Message, _due_messages)),
    Retention("texts", "texts of SMS sends and bulk templates", YEAR, "after the send",
              expire_texts, _count(Batch, _due_texts)),
    Retention("outbox", "numbers and texts in the sandbox outbox", YEAR, "after it was handed over",
              expire_outbox, _count(OutboxEntry, _due_outbox)),
)
