"""/api/v1/govnet/sites: an institution's sites, and each site's story from the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from egactl.plugin.rules import RuleError
from egactl.plugin.server import ApiRoute, audit, db, invalid, page, visible
from egactl_govnet import rules
from egactl_govnet.server.models import Onboarding, Site
from egactl_govnet.server.schemas import SiteIn, SiteOut, SitePage
from egactl_govnet.server.service import (RESOURCE, create_site, current_onboarding, get_site, serialize_site,
                                          site_fields, site_key)

router = APIRouter(route_class=ApiRoute, tags=["govnet"])


def _serialize(site: Site) -> dict[str, Any]:
    return serialize_site(site, current_onboarding(site))


@router.get("/sites", response_model=SitePage)
def list_sites(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
               region: str | None = None, state: str | None = None):
    stmt = visible(select(Site), Site.institution, institution)
    if region:
        try:
            stmt = stmt.where(Site.region == rules.normalise_region(region))
        except RuleError as exc:
            raise invalid(str(exc), "region") from None
    if state:
        if state not in rules.STATES:
            raise invalid(f"unknown state {state!r} (one of: {', '.join(rules.STATES)})", "state")
        latest = select(Onboarding.site_id, func.max(Onboarding.id).label("id")).group_by(Onboarding.site_id).subquery()
        stmt = (stmt.join(latest, latest.c.site_id == Site.id).join(Onboarding, Onboarding.id == latest.c.id)
                .where(Onboarding.state == state))
    return page(db(), stmt, Site.id, cursor=cursor, limit=limit, serialize=_serialize, oldest_first=True)


@router.post("/sites", status_code=201, response_model=SiteOut)
def post_site(body: SiteIn):
    site = create_site(site_fields(body))
    return _serialize(site)


@router.get("/sites/{institution}/{name}", response_model=SiteOut)
def show_site(institution: str, name: str):
    return _serialize(get_site(institution, name))


@router.get("/sites/{institution}/{name}/history", response_model=audit.AuditPage)
def site_history(institution: str, name: str, cursor: str | None = None, limit: int | None = None):
    site = get_site(institution, name)
    stmt = audit.query(resource_type=RESOURCE, resource_id=site_key(site))
    return audit.history_page(stmt, cursor, limit)
