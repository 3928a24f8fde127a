"""The mail service's part of a data subject's request, and its retention (``egactl privacy``).

Staff data follows the mailbox lifecycle. A member of staff is known here by the
employee (HCMIS check) number; mail holds no phone numbers, so a subject known by
a phone number has nothing here.

- report: the mailbox (any state but purged: a purged one has no employee number
  left), its aliases and its distribution-list memberships, unmasked, if the
  caller may read its institution.
- erase: a mailbox still in service (active or suspended) is refused (409): its
  owner still works there, and the institution ends it with ``mail delete``, after
  which this erase, or the purge at the end of the retention period, removes
  the personal data. A deleted mailbox's names, employee number, title and
  department are blanked now, its name words and list memberships removed; its
  addresses stay claimed until it is purged (so they are not handed to someone
  else meanwhile), and it can no longer be undeleted.
- retention: a purged mailbox keeps a record (``mail show`` of its old address
  answers "purged"); the personal fields purge left to it, the address made from
  the person's names, becomes its pseudonym once the period after its retention
  ended (the purge) is over (0 days by default: the next run). The record still
  counts (``institutions delete`` names it); ``mail show`` of the old address then
  answers "not found", as for an address never used.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from egactl.plugin import Privacy, Retention
from egactl.plugin.server import Problem, Subject, also_named, backend, db, iso, pagination, visible
from egactl_mail import rules
from egactl_mail.server import names
from egactl_mail.server.models import MailAddress, Mailbox, MailList, MailListMember

PERSONAL_FIELDS = ("employee_number", "given_name", "family_name", "preferred_name", "title", "department")
IN_SERVICE = (rules.ACTIVE, rules.SUSPENDED)


def subjects_mailbox(subject: Subject) -> Mailbox | None:
    if not subject.employee_number:
        return None
    number = rules.normalise_employee_number(subject.employee_number)
    return db().scalar(visible(select(Mailbox), Mailbox.institution).where(Mailbox.employee_number == number))


def report(subject: Subject) -> list[dict[str, Any]]:
    m = subjects_mailbox(subject)
    if m is None:
        return []
    session = db()
    items = [{"kind": "mailbox", "reference": m.address, "institution": m.institution,
              "data": {"address": m.address, **{f: getattr(m, f) for f in PERSONAL_FIELDS}, "status": m.status,
                       "created_at": iso(m.created_at), "status_changed_at": iso(m.status_changed_at),
                       "retain_until": iso(m.retain_until)}}]
    for claim in session.scalars(select(MailAddress).where(MailAddress.mailbox_id == m.id, MailAddress.kind == "alias")
                                 .order_by(MailAddress.address)):
        items.append({"kind": "alias", "reference": claim.address, "institution": claim.institution,
                      "data": {"alias": claim.address, "mailbox": m.address, "created_at": iso(claim.created_at)}})
    rows = session.execute(select(MailListMember, MailList).join(MailList, MailList.id == MailListMember.list_id)
                           .where(MailListMember.mailbox_id == m.id).order_by(MailList.address)).all()
    for member, lst in rows:
        items.append({"kind": "list membership", "reference": lst.address, "institution": lst.institution,
                      "data": {"list": lst.address, "list_name": lst.name, "member": member.member,
                               "added_at": iso(member.added_at)}})
    return items


def erase(subject: Subject) -> dict[str, int]:
    m = subjects_mailbox(subject)
    if m is None:
        return {}
    if m.status in IN_SERVICE:
        raise Problem(409, f"the mailbox {m.address} of employee {m.employee_number} is still in service "
                           f"({m.status}): end it with `egactl mail delete {m.address}` first; its personal data "
                           f"is then erased by this command, or by `egactl mail purge {m.address}` when its "
                           f"retention ends", state=m.status)
    # The mailbox's audit entries (found by the employee number) hold its names too: they go with it.
    also_named(*(getattr(m, f) for f in ("given_name", "family_name", "preferred_name")), identifying=False)
    session = db()
    memberships = session.execute(MailListMember.__table__.delete()
                                  .where(MailListMember.mailbox_id == m.id)).rowcount or 0
    blank(session, m)
    m.updated_at = backend().now()  # the row gets its next version: an ETag held before no longer matches
    session.flush()
    counts = {"deleted mailboxes' personal fields blanked": 1}
    if memberships:
        counts["list memberships removed"] = memberships
    return counts


def blank(session: Session, m: Mailbox) -> None:
    """No names, employee number, title or department; not found by name any more."""
    for f in PERSONAL_FIELDS:
        setattr(m, f, None)
    m.password_hash = None
    names.forget(session, m.id)


# -- retention ---------------------------------------------------------------------------


def _due(cutoff: dt.datetime):
    """Purged records whose retention ended before ``cutoff`` and that still hold their address:
    one range of the retention index (status, retain_until); an expired record has no retain_until."""
    return (Mailbox.status == rules.PURGED, Mailbox.retain_until <= cutoff)


def expire_purged(session: Session, cutoff: dt.datetime, make_pseudonym: Callable[[str], str], limit: int) -> int:
    """A purged mailbox's record keeps its old address as its pseudonym, nothing else personal."""
    rows = list(session.scalars(select(Mailbox).where(*_due(cutoff)).order_by(Mailbox.retain_until, Mailbox.id)
                                .limit(limit)))
    for m in rows:
        m.address = make_pseudonym(m.address)
        m.retain_until = None  # done: out of the range the next run reads
        for f in PERSONAL_FIELDS:
            setattr(m, f, None)
        names.forget(session, m.id)
    session.flush()
    return len(rows)


def due_purged(session: Session, cutoff: dt.datetime) -> int:
    return pagination.count_up_to(session, select(Mailbox.id).where(*_due(cutoff)))


PURGED = Retention(
    name="purged",
    what="a purged mailbox's old address (its names and numbers go at the purge)",
    days=0,
    after="after the purge (mail retention_days, 90, after the delete)",
    expire=expire_purged,
    due=due_purged,
)

PRIVACY = Privacy(report=report, erase=erase, retention=(PURGED,))

__all__ = ["PRIVACY", "erase", "report"]
