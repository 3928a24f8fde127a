"""GovNet's part of the reference backend: pools, sites, the onboarding workflow.

Imported only when the backend starts (sandbox or ``egactl serve``).
"""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin import BackendPart, Worker
from egactl.plugin.server import ApiRoute
from egactl_govnet.backend import importing, onboardings, pools, sites, status
from egactl_govnet.backend.holds import release_holds
from egactl_govnet.backend.models import TABLES
from egactl_govnet.backend.seed import seed

router = APIRouter(route_class=ApiRoute)
for module in (pools, sites, onboardings, status, importing):
    router.include_router(module.router)

def holdings(session, institution: str) -> dict[str, int]:
    """The institution's GovNet sites (each with its onboardings, prefix and VLAN)."""
    from sqlalchemy import func, select

    from egactl_govnet.backend.models import Site

    return {"GovNet sites": session.scalar(select(func.count()).select_from(Site)
                                           .where(Site.institution == institution))}


part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_govnet.server.migrations",
    holdings=holdings,
    seed=seed,
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
