"""The dr plugin's part of privacy: how long check history is kept.

Check results are kept 400 days (``EGACTL_PRIVACY_DR_CHECKS_DAYS`` sets another
period) and then deleted, each run with its results, by the core's retention
worker: the runs name the staff account that ran each check, and a year's
history is what compliance needs (a system's last check stays on its row).

DR holds nothing about a person known by a phone number or an employee number
(its staff accounts are e-GA's and the institutions' accounts, kept for
accountability), so a data subject's report and erasure find nothing here.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import delete, select

from egactl.plugin import Privacy, Retention
from egactl.plugin.server import pagination
from egactl_dr.server.models import DrCheckResult, DrCheckRun


def report(subject: Any) -> list[dict[str, Any]]:
    """Nothing in the DR inventory, drills or checks is about a phone number or an employee number."""
    return []


def erase(subject: Any) -> dict[str, int]:
    """Nothing to remove (see :func:`report`)."""
    return {}


def expire_checks(session: Any, cutoff: Any, pseudonym: Callable[[str], str], limit: int) -> int:
    """Delete at most ``limit`` check runs older than ``cutoff`` (oldest first, by the index on
    ``at``) with their results; the rows deleted. A run and its results go together."""
    old = session.scalars(select(DrCheckRun.id).where(DrCheckRun.at < cutoff)
                          .order_by(DrCheckRun.at).limit(limit)).all()
    if not old:
        return 0
    results = session.execute(delete(DrCheckResult).where(DrCheckResult.run_id.in_(old))).rowcount
    session.execute(delete(DrCheckRun).where(DrCheckRun.id.in_(old)))
    return len(old) + int(results or 0)


def due_checks(session: Any, cutoff: Any) -> int:
    """The rows the next runs would delete: runs and results older than ``cutoff`` (each counted
    no further than the SDK's cap)."""
    return (pagination.count_up_to(session, select(DrCheckRun.id).where(DrCheckRun.at < cutoff))
            + pagination.count_up_to(session, select(DrCheckResult.id).where(DrCheckResult.at < cutoff)))


CHECKS = Retention(name="checks", what="DR check results, and the account that ran each check", days=400,
                   after="after the check", expire=expire_checks, due=due_checks,
                   formerly="EGACTL_DR_CHECK_RETENTION_DAYS")

PRIVACY = Privacy(report=report, erase=erase, retention=(CHECKS,))
