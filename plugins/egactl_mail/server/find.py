"""The mail service's answers to ``egactl find``: by address, by employee number, by name.

- an e-mail address (exactly): the mailbox, alias or distribution list that has it,
  or the record of a purged mailbox that had it;
- an employee (HCMIS check) number: that person's mailbox and its state;
- a name, any order/case/diacritics, words' starts allowed: the mailboxes whose names
  match (``names.matching``, the same as ``mail list --search``). Distribution lists
  name their members by address only, so a person in a list is found by name through
  the mailbox, and `mail list-group show` shows the list.

Each summary is built from ``service.serialize`` for the caller, so the help desk
sees what ``mail show`` shows it (the employee number masked); an operator sees
only its institutions' mailboxes and lists (``visible``). Every query is an
equality or an index range (tests/mail/test_mail_indexes.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from egactl.plugin.rules import name_tokens, time_for_people
from egactl.plugin.server import Found, Term, db, principal, visible
from egactl_mail import rules
from egactl_mail.server import names, search, service
from egactl_mail.server.models import MailAddress, Mailbox, MailList, MailListMember

EXACT, WORDS, STARTS = 100, 80, 60
"""Ranks: the whole term (an address, a number, every word of the name); whole words; words' starts."""


def find(term: Term, limit: int) -> list[Found]:
    found: list[Found] = []
    if term.email:
        found += by_address(term.email, limit)
    number = employee_number(term)
    if number:
        found += by_employee_number(number)
    if term.words:
        found += by_name(term.words, limit)
    return found[:limit]


def employee_number(term: Term) -> str | None:
    """An HCMIS check number: digits, or letters and digits (``AB123``)."""
    text = term.digits or (term.code if term.code and any(c.isdigit() for c in term.code) else None)
    if not text or rules.check_employee_number(rules.normalise_employee_number(text)):
        return None
    return rules.normalise_employee_number(text)


def mailbox_found(m: Mailbox, rank: int, *, via: str | None = None) -> Found:
    """A mailbox as the caller may see it; ``via``: the alias it was found by."""
    shown = service.serialize(m, mask=principal().masks_personal_data)
    who = shown["display_name"] or "no name kept"
    parts = [who, shown["status"], m.institution]
    if shown["employee_number"]:
        parts.append(f"employee {shown['employee_number']}")
    if m.status == rules.PURGED:
        parts.append(f"purged {time_for_people(shown['status_changed_at'])}")
    if via:
        parts.insert(0, f"alias of {m.address}")
    return Found(kind="alias" if via else "mailbox", reference=via or m.address, summary=" · ".join(parts),
                 command=f"egactl mail show {via or m.address}", institution=m.institution, rank=rank)


def by_address(address: str, limit: int) -> list[Found]:
    """The claim of ``address`` (unique: one index probe), judged by its owner's institution today:
    an old address kept as an alias after a move names the mailbox where it is now."""
    session = db()
    p = principal()
    claim = session.scalar(select(MailAddress).where(MailAddress.address == address))
    if claim is not None and claim.kind == "list":
        lst = session.get(MailList, claim.list_id)
        if not p.can_read(lst.institution):
            return []
        members = session.scalar(select(func.count()).select_from(MailListMember).where(MailListMember.list_id == lst.id))
        return [Found(kind="distribution list", reference=lst.address,
                      summary=f"{lst.name} · {members} member{'' if members == 1 else 's'} · {lst.institution}",
                      command=f"egactl mail list-group show {lst.address}", institution=lst.institution, rank=EXACT)]
    if claim is not None:
        m = session.get(Mailbox, claim.mailbox_id)
        if not p.can_read(m.institution):
            return []
        return [mailbox_found(m, EXACT, via=address if claim.kind == "alias" else None)]
    tombs = session.scalars(visible(select(Mailbox), Mailbox.institution)
                            .where(Mailbox.address == address, Mailbox.status == rules.PURGED)
                            .order_by(Mailbox.id.desc()).limit(limit))
    return [mailbox_found(m, EXACT) for m in tombs]


def by_employee_number(number: str) -> list[Found]:
    m = db().scalar(visible(select(Mailbox), Mailbox.institution).where(Mailbox.employee_number == number))
    return [mailbox_found(m, EXACT)] if m is not None else []


def by_name(words: tuple[str, ...], limit: int) -> list[Found]:
    session = db()
    named = search.among(Mailbox.id, names.matching(words), session.bind.dialect.name)
    rows = session.scalars(visible(select(Mailbox), Mailbox.institution)
                           .where(named, Mailbox.status != rules.PURGED)
                           .order_by(Mailbox.id).limit(limit))
    return [mailbox_found(m, name_rank(words, m)) for m in rows]


def name_rank(words: tuple[str, ...], m: Any) -> int:
    """Every word of the name given (in any order): exact; whole words: close; words' starts: partial."""
    tokens = names.tokens_of(m.given_name, m.family_name, m.preferred_name)
    shown = name_tokens(service.serialize(m)["display_name"])
    if sorted(words) == sorted(shown) or sorted(words) == sorted(tokens):
        return EXACT
    return WORDS if all(w in tokens for w in words) else STARTS
