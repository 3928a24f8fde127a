"""/api/v1/govnet/import: bulk onboarding (sites and their requests), one chunk at a time.

Each row runs in its own savepoint, so one bad row fails alone. A row that was
already done (same site, same open request) answers "exists": running the same
file twice, or resuming it, changes nothing.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from egactl.plugin.server import ApiRoute, Problem, db
from egactl_govnet.backend.models import Onboarding, Site
from egactl_govnet.backend.onboardings import OnboardIn, open_request, request_fields
from egactl_govnet.backend.sites import SiteIn, create_site, site_fields

router = APIRouter(route_class=ApiRoute, tags=["govnet"])

SITE_FIELDS = ("region", "district", "address", "contact_name", "contact_phone", "contact_email")
REQUEST_FIELDS = ("pool_id", "pop", "prefix_length", "bandwidth_bps")


class ImportRow(BaseModel):
    line: int
    institution: str
    site: str
    region: str
    district: str | None = None
    address: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    bandwidth: str
    prefix_length: int | None = None
    pop: str | None = None
    pool: str | None = None


class ImportIn(BaseModel):
    items: list[ImportRow] = Field(max_length=1000)


class ImportResult(BaseModel):
    line: int
    status: Literal["requested", "exists", "failed"]
    id: str | None = None
    error: str | None = None


class ImportOut(BaseModel):
    results: list[ImportResult]


def _row(item: ImportRow) -> dict:
    site_in = SiteIn(institution=item.institution, name=item.site, region=item.region, district=item.district,
                     address=item.address, contact_name=item.contact_name, contact_phone=item.contact_phone,
                     contact_email=item.contact_email)
    fields = site_fields(site_in)
    key = f"{fields['institution']}/{fields['name']}"
    site = db().scalar(select(Site).where(Site.institution == fields["institution"], Site.name == fields["name"]))
    if site is None:
        site = create_site(fields)
    elif any(getattr(site, f) != fields[f] for f in SITE_FIELDS):
        raise Problem(409, f"site {key} exists with other details")
    onboard_in = OnboardIn(institution=item.institution, site=item.site, bandwidth=item.bandwidth,
                           prefix_length=item.prefix_length, pop=item.pop, pool=item.pool)
    site, wanted = request_fields(onboard_in)
    current = db().scalar(select(Onboarding).where(Onboarding.site_id == site.id, Onboarding.open == 1))
    if current is not None:
        if all(getattr(current, f) == wanted[f] for f in REQUEST_FIELDS):
            return {"line": item.line, "status": "exists", "id": str(current.id)}
        raise Problem(409, f"site {key} already has an open request (#{current.id}, {current.state}) with other details")
    ob = open_request(site, wanted)
    return {"line": item.line, "status": "requested", "id": str(ob.id)}


@router.post("/import", response_model=ImportOut)
def bulk_import(body: ImportIn):
    session = db()
    results = []
    for item in body.items:
        try:
            with session.begin_nested():
                results.append(_row(item))
        except Problem as exc:
            results.append({"line": item.line, "status": "failed", "error": exc.detail})
    return {"results": results}
