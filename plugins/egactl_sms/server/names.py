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

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.orm import Session

from egactl.plugin.rules import name_tokens
from egactl.plugin.server import owners_named, starts
from egactl_sms.server.models import GroupMember, MemberNameToken

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
    """The ids of members whose name matches every word (already ``name_tokens``), or None for no words:
    ranges of ``ix_sms_member_name_tokens_token_member`` (``egactl.plugin.server.owners_named``)."""
    return owners_named(MemberNameToken.token, MemberNameToken.member_id, [w[:TOKEN_LENGTH] for w in words])


__all__ = ["forget", "index", "matching", "starts", "tokens_of"]
