"""The dr plugin's background work: pruning old check history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from egactl_dr.server.models import DrCheckResult, DrCheckRun


def prune(be) -> int:
    """Drop check results older than ``dr.check_retention_days`` (runs, then their results cascade)."""
    days = float(be.setting("dr", "check_retention_days"))
    cutoff = be.now() - dt.timedelta(days=days)
    with be.write_sessions() as session:
        old = session.scalars(select(DrCheckRun.id).where(DrCheckRun.at < cutoff).limit(500)).all()
        if not old:
            return 0
        session.execute(delete(DrCheckResult).where(DrCheckResult.run_id.in_(old)))
        session.execute(delete(DrCheckRun).where(DrCheckRun.id.in_(old)))
        session.commit()
        return len(old)
