"""Names found by their words, from an index: the query side of the one name matching.

A plugin keeps the words of each name (``egactl.plugin.rules.name_tokens``) in a token
table, one row per word with the owner's id, indexed on (word, owner). These build
the query: every query word the start of a different word of the name, in any order
(``name_matches`` says the same thing in Python), answered from index ranges only.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Select, func, intersect, select

END = "\uffff"
"""Sorts after every character a word can hold: ``word >= w AND word < w + END`` is "starts with w"."""


def starts(column: Any, word: str) -> tuple[Any, Any]:
    """``column`` starts with ``word``, as an index range (no LIKE, whose index use depends on collation)."""
    return column >= word, column < word + END


def owners_named(token: Any, owner: Any, words: Iterable[str]) -> Select | None:
    """The owners (``owner``: the token table's owner id column) whose name's words (``token``) match
    every word of ``words`` (already ``name_tokens``), or None for no words.

    One prefix range of the (word, owner) index per distinct word, intersected; a word
    that starts another query word (or comes twice) must start as many different words
    of the name as query words start with it: words that start one another find nested
    sets of tokens, so that count per word is exactly "a different word for each".
    """
    wanted = [w for w in words if w]
    if not wanted:
        return None
    branches = []
    for w in sorted(set(wanted)):
        needed = sum(1 for other in wanted if other.startswith(w))
        branch = select(owner).where(*starts(token, w))
        if needed > 1:
            branch = branch.group_by(owner).having(func.count() >= needed)
        branches.append(branch)
    if len(branches) == 1:
        return branches[0]
    both = intersect(*branches).subquery("named")  # a SELECT of its own: SQLite nests no bare compound
    return select(both.c[owner.key])
