"""The dr plugin's part of the reference backend.

Settings (``EGACTL_DR_<KEY>`` or ``create_app(settings={"dr.<key>": …})``):

- ``approved_hosting``: comma-separated approved government hosting environments;
- ``check_stale_days``: a last check older than this makes a system non-compliant;
- ``check_retention_days``: check history older than this is pruned by a worker.
"""

from __future__ import annotations

from egactl.plugin import BackendPart, Worker
from egactl_dr.server import router
from egactl_dr.server.checks import prune
from egactl_dr.server.models import TABLES
from egactl_dr.server.seed import seed

def holdings(session, institution: str) -> dict[str, int]:
    """The institution's systems in the DR inventory (their drills and check history go with them)."""
    from sqlalchemy import func, select

    from egactl_dr.server.models import DrSystem

    return {"DR systems": session.scalar(select(func.count()).select_from(DrSystem)
                                         .where(DrSystem.institution == institution))}


part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_dr.server.migrations",
    holdings=holdings,
    seed=seed,
    workers=[Worker("prune-check-history", prune, interval=3600)],
    settings={
        "approved_hosting": "gdc-dodoma,gdc-dar,govcloud",
        "check_stale_days": 7,
        "check_retention_days": 400,
    },
)
