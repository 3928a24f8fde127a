"""The dr plugin's part of the reference backend: inventory, drills, check history, report.

Settings (``EGACTL_DR_<KEY>`` or ``create_app(settings={"dr.<key>": …})``):

- ``approved_hosting``: comma-separated approved government hosting environments;
- ``check_stale_days``: a last check older than this makes a system non-compliant.

Check history is kept 400 days, then deleted by the core's retention worker
(``privacy.py``; ``EGACTL_PRIVACY_DR_CHECKS_DAYS`` sets another period).
"""

from __future__ import annotations

from egactl.plugin import BackendPart
from egactl_dr.server.find import find
from egactl_dr.server.models import TABLES
from egactl_dr.server.privacy import PRIVACY
from egactl_dr.server.routes import router
from egactl_dr.server.seed import seed
from egactl_dr.server.service import holdings

part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_dr.server.migrations",
    holdings=holdings,
    seed=seed,
    find=find,
    privacy=PRIVACY,
    settings={
        "approved_hosting": "gdc-dodoma,gdc-dar,govcloud",
        "check_stale_days": 7,
    },
)
