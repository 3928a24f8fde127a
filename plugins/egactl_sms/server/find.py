"""egactl find's sms answers: what sms holds about a phone number or a sender ID.

A phone number (``term.phone``) → its opt-outs, its contact-group memberships and
the latest messages to it (state, and the reason of a failure), of the
institutions the caller may read. A sender ID (the term as typed, e.g. ``TRA KODI``)
→ its institution and approval state. A person's name (``term.words``: "neema kw",
"Kweka Neema") → the group members so named, by the words of their names
(``names.matching``: prefix ranges of ``ix_sms_member_name_tokens_token_member``). Each look-up is one index range
(``ix_sms_optouts_phone``, ``ix_sms_group_members_phone``,
``ix_sms_messages_recipient_created_id``, the unique sender key); the rows are
shaped by the read routes' own serializers (``schemas``), so the help desk sees
numbers and names masked and no message text, as in ``sms list``.
"""

from __future__ import annotations

import shlex

from sqlalchemy import any_, func, select

from egactl.plugin.rules import time_for_people
from egactl.plugin.server import Found, Term, db, visible
from egactl_sms import rules
from egactl_sms.server import names
from egactl_sms.server.models import Batch, Group, GroupMember, Message, OptOut, Sender
from egactl_sms.server.schemas import member_out, message_out, optout_out, phone_out, sender_out
from egactl_sms.server.service import optout_keys

EXACT, WORDS, STARTS = 100, 80, 60
PER_INSTITUTION = 3
"""Latest messages shown per institution: one institution's campaign does not hide another's message."""
READ_AT_MOST = 200
"""Newest messages to the number read to find them (one range of the recipient index)."""
TEXT_SHOWN = 40
"""Characters of a message's text in its summary (never for the help desk)."""


def find(term: Term, limit: int) -> list[Found]:
    found: list[Found] = []
    if term.phone:
        found += optouts(term.phone, limit)
        found += memberships(term.phone, limit)
        found += messages(term.phone, limit)
    if term.words:
        found += named(term.words, limit)
    key = sender_key(term.text)
    if key:
        found += senders(key, limit)
    return found[:limit]


def sender_key(text: str) -> str | None:
    """The sender ID ``text`` names, if it can be one."""
    return rules.sender_key(text) if rules.check_sender_id(text) is None else None


def optouts(phone: str, limit: int) -> list[Found]:
    # one per institution at most: no order needed (the core ranks the answers)
    rows = db().scalars(visible(select(OptOut).where(OptOut.phone.in_(optout_keys(phone))), OptOut.institution)
                        .limit(limit))
    number = phone_out(phone)  # masked for the help desk
    found = []
    for row in rows:
        o = optout_out(row)
        why = o["reason"]  # the citizen's own words: None for the help desk
        if row.phone != phone:
            why = "kept as a pseudonym: the person's data was erased"
        found.append(Found(kind="opt-out", reference=f"{o['institution']}/{o['phone']}",
                           summary=f"{number} opted out of {o['institution']}'s messages on "
                                   f"{time_for_people(o['created_at'])}" + (f" ({why})" if why else ""),
                           command=f"egactl sms optout list -i {o['institution']} --phone {number}"
                           if number == phone else f"egactl sms optout list -i {o['institution']}",
                           institution=o["institution"], rank=EXACT))
    return found


def memberships(phone: str, limit: int) -> list[Found]:
    stmt = (select(GroupMember, Group.name, Group.institution).join(Group, Group.id == GroupMember.group_id)
            .where(GroupMember.phone == phone))
    rows = db().execute(visible(stmt, Group.institution).limit(limit))
    found = []
    for member, group, institution in rows:
        m = member_out(member)
        named = f" as {m['name']}" if m["name"] else ""
        found.append(Found(kind="group member", reference=f"{institution}/{group}",
                           summary=f"{m['phone']}{named} is in {institution}'s group {group!r} since "
                                   f"{time_for_people(m['added_at'])}",
                           command=f"egactl sms group show {shlex.quote(group)} -i {institution}",
                           institution=institution, rank=EXACT))
    return found


def named(words: tuple[str, ...], limit: int) -> list[Found]:
    """The group members whose name has every word (as a word's start), of the institutions the caller may read."""
    session = db()
    ids = names.matching(words)
    if session.bind.dialect.name == "postgresql":  # the ids first, then the members by primary key
        among = GroupMember.id == any_(func.array(ids.scalar_subquery()))
    else:
        among = GroupMember.id.in_(ids)
    stmt = (select(GroupMember, Group.name, Group.institution).join(Group, Group.id == GroupMember.group_id)
            .where(among))
    rows = session.execute(visible(stmt, Group.institution).order_by(GroupMember.id).limit(limit))
    found = []
    for member, group, institution in rows:
        m = member_out(member)  # phone and name masked for the help desk
        found.append(Found(kind="group member", reference=f"{institution}/{group}",
                           summary=f"{m['name']} ({m['phone']}) is in {institution}'s group {group!r} since "
                                   f"{time_for_people(m['added_at'])}",
                           command=f"egactl sms group show {shlex.quote(group)} -i {institution}",
                           institution=institution, rank=name_rank(words, member.name)))
    return found


def name_rank(words: tuple[str, ...], name: str | None) -> int:
    """The whole name given (in any order): exact; whole words of it: close; words' starts: partial."""
    tokens = names.tokens_of(name)
    if sorted(words) == sorted(tokens):
        return EXACT
    return WORDS if all(w in tokens for w in words) else STARTS


def messages(phone: str, limit: int) -> list[Found]:
    """The latest messages to ``phone`` of each institution, newest first: one range of the
    recipient index, at most :data:`READ_AT_MOST` rows."""
    stmt = (select(Message, Batch.sender).join(Batch, Batch.id == Message.batch_id)
            .where(Message.recipient == phone))
    rows = db().execute(visible(stmt, Message.institution)
                        .order_by(Message.created_at.desc(), Message.id.desc()).limit(READ_AT_MOST))
    found = []
    shown: dict[str, int] = {}
    for message, sender in rows:
        if len(found) == limit:
            break
        if shown.get(message.institution, 0) == PER_INSTITUTION:
            continue
        shown[message.institution] = shown.get(message.institution, 0) + 1
        m = message_out(message, sender)
        when = m["delivered_at"] or m["submitted_at"] or m["created_at"]
        summary = f"to {m['to']} from {sender}: {m['state']}"
        if m["reason"]:
            summary += f" ({m['reason']})"
        summary += f", {time_for_people(when)}"
        if m["text"]:
            summary += f' · "{clip(m["text"])}"'
        found.append(Found(kind="message", reference=str(m["id"]), summary=summary,
                           command=f"egactl sms show {m['id']}", institution=m["institution"], rank=EXACT))
    return found


def senders(key: str, limit: int) -> list[Found]:
    rows = db().scalars(visible(select(Sender).where(Sender.name_key == key), Sender.institution).limit(limit))
    found = []
    for row in rows:
        s = sender_out(row)
        since = s["decided_at"] or s["requested_at"]
        found.append(Found(kind="sender ID", reference=s["name"],
                           summary=f"{s['institution']}'s sender ID, {s['status']} since {time_for_people(since)}"
                                   + (f" ({s['purpose']})" if s["purpose"] else ""),
                           command=f"egactl sms senders list -i {s['institution']} --state {s['status']}",
                           institution=s["institution"], rank=EXACT))
    return found


def clip(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= TEXT_SHOWN else one_line[:TEXT_SHOWN - 1] + "…"
