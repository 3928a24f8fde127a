"""The dr plugin's part of the reference backend: inventory, drills, check history, report.

Settings (``EGACTL_DR_<KEY>`` or ``create_app(settings={"dr.<key>": …})``):

- ``approved_hosting``: comma-separated approved government hosting environments;
- ``check_stale_days``: a last check older than this makes a system non-compliant;
- ``check_retention_days``: check history older than this is pruned by a worker.
"""

from __future__ import annotations

from egactl.plugin import BackendPart, Worker
from egactl_dr.server.find import find
from egactl_dr.server.models import TABLES
from egactl_dr.server.routes import router
from egactl_dr.server.seed import seed
from egactl_dr.server.service import holdings
from egactl_dr.server.workers import prune

part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_dr.server.migrations",
    holdings=holdings,
    seed=seed,
    find=find,
    workers=[Worker("prune-check-history", prune, interval=3600)],
    settings={
        "approved_hosting": "gdc-dodoma,gdc-dar,govcloud",
        "check_stale_days": 7,
        "check_retention_days": 400,
    },
)
