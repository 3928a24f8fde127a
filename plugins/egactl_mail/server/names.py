"""A mailbox's names as searchable words: the token and pair tables, kept in step, and the query on them.

Every write of a mailbox's names (create, import, reconcile's creates, update,
erase, purge; the seed and the migration that filled the table) goes through
:func:`index` or :func:`forget`, so the words in ``mail_name_tokens`` (and their
pairs in ``mail_name_pairs``) are always those of the names a table shows.
:func:`matching` is the one name matching of ``mail list --search`` and ``egactl find``: every query word is the start of a
different word of the names (``egactl.plugin.rules.name_matches``), any order,
case, diacritics or apostrophes, answered from index ranges only.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Select, delete, insert, select, union_all
from sqlalchemy.orm import Session

from egactl.plugin.rules import name_tokens
from egactl.plugin.server import owners_named, starts
from egactl_mail.server.models import Mailbox, MailNamePair, MailNameToken

TOKEN_LENGTH = 100


def tokens_of(given_name: str | None, family_name: str | None, preferred_name: str | None) -> list[str]:
    """The words a mailbox is found by: of its preferred, given and family names."""
    words: list[str] = []
    for name in (preferred_name, given_name, family_name):
        words += [w[:TOKEN_LENGTH] for w in name_tokens(name)]
    return words


def pairs_of(words: list[str]) -> set[tuple[str, str]]:
    """Every two words at different places, in either order (``Juma Juma`` gives ``(juma, juma)``)."""
    return {(a, b) for i, a in enumerate(words) for j, b in enumerate(words) if i != j}


def rows(mailbox_id: int, given_name: str | None, family_name: str | None,
         preferred_name: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The token rows and the pair rows of one mailbox, for multi-row INSERTs."""
    words = tokens_of(given_name, family_name, preferred_name)
    return ([{"mailbox_id": mailbox_id, "position": i, "token": t} for i, t in enumerate(words)],
            [{"mailbox_id": mailbox_id, "first": a, "second": b} for a, b in sorted(pairs_of(words))])


def index(session: Session, m: Mailbox) -> None:
    """(Re)write the words of ``m``'s names; ``m`` may be new (not flushed yet)."""
    if m.id is not None:
        forget(session, m.id)
        index_many(session, [(m.id, {"given_name": m.given_name, "family_name": m.family_name,
                                     "preferred_name": m.preferred_name})])
        return
    words = tokens_of(m.given_name, m.family_name, m.preferred_name)
    for i, t in enumerate(words):
        session.add(MailNameToken(mailbox=m, position=i, token=t))
    for a, b in sorted(pairs_of(words)):
        session.add(MailNamePair(mailbox=m, first=a, second=b))


def index_many(session: Session, mailboxes: Iterable[tuple[int, dict[str, Any]]]) -> None:
    """The words of mailboxes inserted in bulk (or rewritten): ``(id, column values)`` each."""
    tokens: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    for id_, v in mailboxes:
        t, p = rows(id_, v.get("given_name"), v.get("family_name"), v.get("preferred_name"))
        tokens += t
        pairs += p
    for model, values in ((MailNameToken, tokens), (MailNamePair, pairs)):
        for i in range(0, len(values), 5000):
            session.execute(insert(model), values[i:i + 5000])


def forget(session: Session, mailbox_id: int) -> None:
    """A mailbox whose names are gone (purged, erased) is found by name no more."""
    session.execute(delete(MailNameToken).where(MailNameToken.mailbox_id == mailbox_id))
    session.execute(delete(MailNamePair).where(MailNamePair.mailbox_id == mailbox_id))


def matching(words: Iterable[str]) -> Select | None:
    """The ids of mailboxes whose names match every word (already ``name_tokens``), or None for no words.

    One word: a prefix range of ``ix_mail_name_tokens_token_mailbox``. Two words (the
    usual "juma mr"): ranges of ``ix_mail_name_pairs_first_second_mailbox``, the longer
    word on ``first`` (the fewer entries to read), the other's range on ``second``; a
    pair is of two different words, so "mr mr" needs two words starting "mr". The
    longer word is most often a whole word, so its range on ``first`` is read as two
    branches: ``first`` equal to it, where the range on ``second`` is a range of the
    index (it reads only the matches), and ``first`` strictly longer than it (words it
    only starts, few), where ``second`` is tested inside the index. One range on
    ``first`` read every pair of the word, the matches and the rest: 20,000 entries for
    1,400 "juma mr" at national size, growing with the table. Three or more: one token range per distinct word,
    intersected, where a word that starts another query word (or comes twice) must
    start as many different words of the names as query words start with it (as
    words that start one another find nested sets of tokens, that count per word is
    exactly "a different word for each").
    """
    wanted = [w[:TOKEN_LENGTH] for w in words if w]
    if not wanted:
        return None
    if len(wanted) == 1:
        return select(MailNameToken.mailbox_id).where(*starts(MailNameToken.token, wanted[0]))
    if len(wanted) == 2:
        longer, other = sorted(wanted, key=lambda w: (-len(w), w))
        second = starts(MailNamePair.second, other)
        paired = union_all(
            select(MailNamePair.mailbox_id).where(MailNamePair.first == longer, *second),
            select(MailNamePair.mailbox_id).where(MailNamePair.first > longer, starts(MailNamePair.first, longer)[1],
                                                  *second),
        ).subquery("paired")  # a SELECT of its own: SQLite nests no bare compound
        return select(paired.c.mailbox_id)
    return owners_named(MailNameToken.token, MailNameToken.mailbox_id, wanted)


__all__ = ["forget", "index", "index_many", "matching", "pairs_of", "rows", "starts", "tokens_of"]
