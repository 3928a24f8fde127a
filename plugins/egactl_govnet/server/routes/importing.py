"""/api/v1/govnet/import: bulk onboarding (sites and their requests), one chunk at a time.

Each row runs in its own savepoint, so one bad row fails alone. A row that was
already done (same site, same open request) answers "exists": running the same
file twice, or resuming it, changes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError
from sqlalchemy import select

from egactl.plugin.server import ApiRoute, Problem, conflict, db
from egactl_govnet.server.models import Site
from egactl_govnet.server.schemas import ImportIn, ImportOut, ImportRow, OnboardIn, SiteIn
from egactl_govnet.server.service import create_site, open_onboarding, open_request, request_fields, site_fields

router = APIRouter(route_class=ApiRoute, tags=["govnet"])

SITE_FIELDS = ("region", "district", "address", "contact_name", "contact_phone", "contact_email")
REQUEST_FIELDS = ("pool_id", "pop", "prefix_length", "bandwidth_bps")


def _row(item: ImportRow) -> dict:
    site_in = SiteIn(institution=item.institution, name=item.site, region=item.region, district=item.district,
                     address=item.address, contact_name=item.contact_name, contact_phone=item.contact_phone,
                     contact_email=item.contact_email)
    onboard_in = OnboardIn(institution=item.institution, site=item.site, bandwidth=item.bandwidth,
                           prefix_length=item.prefix_length, pop=item.pop, pool=item.pool)
    fields = site_fields(site_in)
    key = f"{fields['institution']}/{fields['name']}"
    site = db().scalar(select(Site).where(Site.institution == fields["institution"], Site.name == fields["name"]))
    if site is None:
        site = create_site(fields)
    elif any(getattr(site, f) != fields[f] for f in SITE_FIELDS):
        raise conflict(f"site {key} exists with other details")
    site, wanted = request_fields(onboard_in)
    current = open_onboarding(site)
    if current is not None:
        if all(getattr(current, f) == wanted[f] for f in REQUEST_FIELDS):
            return {"line": item.line, "status": "exists", "id": str(current.id)}
        raise conflict(f"site {key} already has an open request (#{current.id}, {current.state}) with other details")
    ob = open_request(site, wanted)
    return {"line": item.line, "status": "requested", "id": str(ob.id)}


def _refused(exc: ValidationError) -> str:
    """A row's fields the rules refuse, as the rules word them (the column is named when the rule does not)."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ()))
        problems.append(err["msg"] if err.get("type") == "rule" else f"{field}: {err['msg']}")
    return "; ".join(problems)


@router.post("/import", response_model=ImportOut)
def bulk_import(body: ImportIn):
    session = db()
    results = []
    for item in body.items:
        try:
            with session.begin_nested():
                results.append(_row(item))
        except ValidationError as exc:
            results.append({"line": item.line, "status": "failed", "error": _refused(exc)})
        except Problem as exc:
            results.append({"line": item.line, "status": "failed", "error": exc.detail})
    return {"results": results}
