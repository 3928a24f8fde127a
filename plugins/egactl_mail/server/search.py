"""``mail list --search``: the mailboxes a help-desk look-up means, as a union of index ranges.

A search text may be an address (or its start), an employee number, a name in
any order or the start of an address's local part. Each reading is one branch
that an index answers (an equality or a range), and the mailbox ids of all
branches are one ``UNION``: the page then reads those mailboxes by primary key.
An ``OR`` of the branches on the mailbox table instead let PostgreSQL walk the
whole table filtering each row through a sub-plan (issue "national scale").

The ids are given to the page as :func:`among`: on PostgreSQL ``id = ANY(ARRAY(…))``,
so the ids are found first and the mailboxes read from the primary key in page
order; an ``IN (…)`` semi-join there leaves the planner free to walk the primary
key for the page order and test each row instead, the very scan this replaces.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import and_, any_, func, select, union

from egactl.plugin.rules import name_tokens
from egactl.plugin.server import starts
from egactl_mail import rules
from egactl_mail.server import names
from egactl_mail.server.models import MailAddress, Mailbox

def prefix(column, text: str):
    """``column`` starts with ``text``, as an index range (LIKE can't use the index everywhere)."""
    return and_(*starts(column, text))


def among(column, ids, dialect: str):
    """``column`` is one of the ``ids`` (a SELECT), read as the ids first, then the rows by ``column``'s index."""
    if dialect == "postgresql":
        return column == any_(func.array(ids.scalar_subquery()))
    return column.in_(ids)


def mailbox_ids(q: str):
    """The ids of the mailboxes ``q`` finds (a SELECT for ``Mailbox.id.in_(...)``), or None for nothing to find."""
    readings = _readings(q)
    return union(*readings.others, *([readings.by_name] if readings.by_name is not None else [])) if readings else None


def counted(q: str):
    """The ids (one row each) ``q`` finds among the mailboxes that are not purged, for a list of every
    institution's such mailboxes narrowed by ``q`` alone to count (``page(..., counted=)``); None for
    nothing to find, or nothing cheaper to count than the list itself.

    The list tests each matching mailbox's row for its status: O(matches) reads of the
    table (1,407 for "juma mr" at national size, 4 ms of a 13 ms look-up). A name match
    needs no such test: a purged mailbox has no names, so no words in the name index
    (``service.purge`` and the privacy erasures call ``names.forget``), and its ids
    are counted from the index alone. The other readings (an employee number, the
    start of an address, which may be a purged mailbox's tombstone) keep the test.
    """
    readings = _readings(q)
    if not readings or readings.by_name is None:
        return None
    found = union(readings.by_name,
                  *(select(Mailbox.id).where(Mailbox.status != rules.PURGED, Mailbox.id.in_(ids.correlate(None)))
                    for ids in readings.others)).subquery("found")
    return select(found.c[0])


class _Readings(NamedTuple):
    others: list  # SELECTs of mailbox ids: employee number, addresses' starts
    by_name: Any  # a SELECT of the ids whose names match (names.matching), or None


def _readings(q: str) -> _Readings | None:
    """Each reading of ``q`` as a SELECT of mailbox ids, or None for nothing to find."""
    q = q.strip()
    if not q:
        return None
    lower = q.lower()
    if "@" in q:
        address = rules.normalise_address(q)
        return _Readings([
            select(MailAddress.mailbox_id).where(prefix(MailAddress.address, address), MailAddress.mailbox_id.is_not(None)),
            select(Mailbox.id).where(Mailbox.address == address),  # a purged mailbox's tombstone
        ], None)
    return _Readings([
        select(Mailbox.id).where(Mailbox.employee_number == rules.normalise_employee_number(q)),
        # an address's start: a mailbox's own or an alias's, and a tombstone's
        select(MailAddress.mailbox_id).where(prefix(MailAddress.address, lower), MailAddress.mailbox_id.is_not(None)),
        select(Mailbox.id).where(prefix(Mailbox.address, lower)),
    ], names.matching(name_tokens(q)))


__all__ = ["among", "counted", "mailbox_ids", "prefix"]
