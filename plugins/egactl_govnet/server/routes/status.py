"""/api/v1/govnet/status: the onboarding pipeline at a glance."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from sqlalchemy import func, select

from egactl.plugin.server import ApiRoute, Institution, backend, db, invalid, iso, principal
from egactl_govnet import rules
from egactl_govnet.server.models import Onboarding, Site
from egactl_govnet.server.schemas import StatusOut
from egactl_govnet.server.service import site_key

router = APIRouter(route_class=ApiRoute, tags=["govnet"])

WAITING_STATES = (rules.REQUESTED, rules.APPROVED, rules.PROVISIONED)
"""States in which a site waits on e-GA (approval, provisioning, the link test)."""


@router.get("/status", response_model=StatusOut)
def pipeline(institution: str | None = None, waiting_days: int = 7, limit: int | None = None):
    """``limit``: list at most this many institutions without an active site (all when absent);
    ``without_active_site_count`` says how many there are in all."""
    if not 0 <= waiting_days <= 3650:
        raise invalid("waiting_days must be between 0 and 3650", "waiting_days")
    if limit is not None and limit < 1:
        raise invalid("limit must be at least 1", "limit")
    p = principal()
    scope = p.visible_institutions()
    if institution:
        code = institution.upper()
        p.check_read(code)
        scope = (code,)
    session = db()

    counts_stmt = select(Onboarding.state, func.count()).join(Site, Site.id == Onboarding.site_id).group_by(Onboarding.state)
    if scope is not None:
        counts_stmt = counts_stmt.where(Site.institution.in_(scope))
    found = dict(session.execute(counts_stmt).all())
    counts = {state: found.get(state, 0) for state in rules.STATES}

    now = backend().now()
    cutoff = now - dt.timedelta(days=waiting_days)
    waiting_stmt = (select(Onboarding, Site).join(Site, Site.id == Onboarding.site_id)
                    .where(Onboarding.state.in_(WAITING_STATES), Onboarding.state_since <= cutoff)
                    .order_by(Onboarding.state_since, Onboarding.id))
    if scope is not None:
        waiting_stmt = waiting_stmt.where(Site.institution.in_(scope))
    waiting = [{"id": ob.id, "site": site_key(site), "institution": site.institution, "state": ob.state,
                "since": iso(ob.state_since), "days_waiting": (now - ob.state_since).days}
               for ob, site in session.execute(waiting_stmt).all()]

    active = select(Site.institution).join(Onboarding, Onboarding.site_id == Site.id).where(Onboarding.state == rules.ACTIVE)
    idle_stmt = select(Institution.code, Institution.name).where(Institution.code.not_in(active)).order_by(Institution.code)
    if scope is not None:
        idle_stmt = idle_stmt.where(Institution.code.in_(scope))
    idle_count = session.scalar(select(func.count()).select_from(idle_stmt.subquery()))
    if limit is not None:
        idle_stmt = idle_stmt.limit(limit)
    idle = [{"institution": code, "name": name} for code, name in session.execute(idle_stmt).all()]

    return {"counts": counts, "waiting_days": waiting_days, "waiting": waiting, "without_active_site": idle,
            "without_active_site_count": idle_count}
