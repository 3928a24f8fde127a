"""GovNet's part of the reference backend: pools, sites, the onboarding workflow.

Imported only when the backend starts (sandbox or ``egactl serve``).
"""

from __future__ import annotations

from egactl.plugin import BackendPart, Worker
from egactl_govnet.server.find import find
from egactl_govnet.server.models import TABLES
from egactl_govnet.server.privacy import PRIVACY
from egactl_govnet.server.routes import router
from egactl_govnet.server.seed import seed
from egactl_govnet.server.service import holdings
from egactl_govnet.server.workers import release_holds

part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_govnet.server.migrations",
    holdings=holdings,
    seed=seed,
    find=find,
    privacy=PRIVACY,
    workers=[Worker("release-holds", release_holds, interval=60.0)],
    settings={
        # Days a decommissioned site's prefix and VLAN stay out of the pool, so
        # that traffic or routes still aimed at the old site never reach a new one.
        "hold_days": 90,
        # The link test activation needs: at most this much loss, and at least
        # this share of the committed rate.
        "max_loss_pct": 1.0,
        "min_throughput_ratio": 0.9,
    },
)
