"""A contact-group member's name as searchable words: the token table, kept in step, and the query on it.

Every write of a member's name goes through here: added by ``group add-members`` and
``group import`` (:func:`index`), removed by ``remove-members``, ``group delete`` and
``privacy erase`` (:func:`forget`, before the member rows go); the seed and the
migration that filled ``sms_member_name_tokens`` write the same words. Retention
keeps members as they are (a member stays until removed), so it writes no names.
:func:`matching` is the one name matching of ``egactl find`` for members: every query
word is the start of a different word of the name (``egactl.plugin.rules.name_matches``),
any order, case, diacritics or apostrophes, answered from index ranges only.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Select, delete, func, insert, intersect, select
from sqlalchemy.orm import Session

from egactl.plugin.rules import name_tokens
from egactl_sms.server.models import GroupMember, MemberNameToken

END = "\uffff"
"""Sorts after every character a token can hold: ``token >= w AND token < w + END`` is "starts with w"."""

TOKEN_LENGTH = 100
CHUNK = 5000


def tokens_of(name: str | None) -> list[str]:
    """The words a member is found by."""
    return [w[:TOKEN_LENGTH] for w in name_tokens(name)]


def index(session: Session, members: Iterable[tuple[int, str | None]]) -> None:
    """Write the words of new members' names: ``(member id, name)`` each."""
    rows = [{"member_id": id_, "position": i, "token": t} for id_, name in members
            for i, t in enumerate(tokens_of(name))]
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(MemberNameToken), rows[i:i + CHUNK])


def forget(session: Session, *where: Any) -> None:
    """The members ``where`` selects (conditions on ``GroupMember``) are about to go: their words go first."""
    session.execute(delete(MemberNameToken).where(
        MemberNameToken.member_id.in_(select(GroupMember.id).where(*where))))


def matching(words: Iterable[str]) -> Select | None:
    """The ids of members whose name matches every word (already ``name_tokens``), or None for no words.

    One prefix range of ``ix_sms_member_name_tokens_token_member`` per distinct word,
    intersected; a word that starts another query word (or comes twice) must start as
    many different words of the name as query words start with it (words that start
    one another find nested sets of tokens, so that count per word is exactly "a
    different word for each"), as in mail's names.
    """
    wanted = [w[:TOKEN_LENGTH] for w in words if w]
    if not wanted:
        return None
    branches = []
    for w in sorted(set(wanted)):
        needed = sum(1 for other in wanted if other.startswith(w))
        branch = select(MemberNameToken.member_id).where(*starts(MemberNameToken.token, w))
        if needed > 1:
            branch = branch.group_by(MemberNameToken.member_id).having(func.count() >= needed)
        branches.append(branch)
    if len(branches) == 1:
        return branches[0]
    both = intersect(*branches).subquery("named")  # a SELECT of its own: SQLite nests no bare compound
    return select(both.c.member_id)


def starts(column: Any, word: str) -> tuple[Any, Any]:
    """``column`` starts with ``word``, as an index range."""
    return column >= word, column < word + END


__all__ = ["END", "forget", "index", "matching", "starts", "tokens_of"]
