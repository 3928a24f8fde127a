"""A mailbox's names as searchable words: the token table, kept in step, and the query on it.

Every write of a mailbox's names (create, import, reconcile's creates, update,
erase, purge; the seed and the migration that filled the table) goes through
:func:`index` or :func:`forget`, so the words in ``mail_name_tokens`` are always
those of the names a table shows. :func:`matching` is the one name matching of
``mail list --search`` and ``egactl find``: every query word is the start of a
different word of the names (``egactl.plugin.rules.name_matches``), any order,
case, diacritics or apostrophes, answered from index ranges only.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Select, delete, func, insert, intersect, select
from sqlalchemy.orm import Session

from egactl.plugin.rules import name_tokens
from egactl_mail.server.models import Mailbox, MailNameToken

END = "\uffff"
"""Sorts after every character a token can hold: ``token >= w AND token < w + END`` is "starts with w"."""

TOKEN_LENGTH = 100


def tokens_of(given_name: str | None, family_name: str | None, preferred_name: str | None) -> list[str]:
    """The words a mailbox is found by: of its preferred, given and family names."""
    words: list[str] = []
    for name in (preferred_name, given_name, family_name):
        words += [w[:TOKEN_LENGTH] for w in name_tokens(name)]
    return words


def rows(mailbox_id: int, given_name: str | None, family_name: str | None,
         preferred_name: str | None) -> list[dict[str, Any]]:
    """The token rows of one mailbox, for a multi-row INSERT."""
    return [{"mailbox_id": mailbox_id, "position": i, "token": t}
            for i, t in enumerate(tokens_of(given_name, family_name, preferred_name))]


def index(session: Session, m: Mailbox) -> None:
    """(Re)write the words of ``m``'s names; ``m`` may be new (not flushed yet)."""
    if m.id is not None:
        session.execute(delete(MailNameToken).where(MailNameToken.mailbox_id == m.id))
        words = rows(m.id, m.given_name, m.family_name, m.preferred_name)
        if words:
            session.execute(insert(MailNameToken), words)
        return
    for i, t in enumerate(tokens_of(m.given_name, m.family_name, m.preferred_name)):
        session.add(MailNameToken(mailbox=m, position=i, token=t))


def index_many(session: Session, mailboxes: Iterable[tuple[int, dict[str, Any]]]) -> None:
    """The words of new mailboxes inserted in bulk: ``(id, column values)`` each."""
    words = [r for id_, v in mailboxes for r in rows(id_, v.get("given_name"), v.get("family_name"),
                                                      v.get("preferred_name"))]
    for i in range(0, len(words), 5000):
        session.execute(insert(MailNameToken), words[i:i + 5000])


def forget(session: Session, mailbox_id: int) -> None:
    """A mailbox whose names are gone (purged, erased) is found by name no more."""
    session.execute(delete(MailNameToken).where(MailNameToken.mailbox_id == mailbox_id))


def matching(words: Iterable[str]) -> Select | None:
    """The ids of mailboxes whose names match every word (already ``name_tokens``), or None for no words.

    One prefix range of ``ix_mail_name_tokens_token_mailbox`` per distinct word,
    intersected. A word that starts another query word (or comes twice:
    ``juma ju``, ``juma juma``) must start as many different words of the names
    as query words start with it; as words that start one another find nested
    sets of tokens, that count per word is exactly "a different word for each".
    """
    wanted = [w[:TOKEN_LENGTH] for w in words if w]
    if not wanted:
        return None
    branches = []
    for w in sorted(set(wanted)):
        needed = sum(1 for other in wanted if other.startswith(w))
        branch = select(MailNameToken.mailbox_id).where(MailNameToken.token >= w, MailNameToken.token < w + END)
        if needed > 1:
            branch = branch.group_by(MailNameToken.mailbox_id).having(func.count() >= needed)
        branches.append(branch)
    if len(branches) == 1:
        return branches[0]
    both = intersect(*branches).subquery("named")  # a SELECT of its own: SQLite nests no bare compound
    return select(both.c.mailbox_id)


__all__ = ["END", "forget", "index", "index_many", "matching", "rows", "tokens_of"]
