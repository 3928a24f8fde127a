"""/api/v1/govnet/sites: an institution's sites, and each site's story from the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from egactl.plugin.rules import check_email
from egactl.plugin.server import ApiRoute, Problem, audit, backend, db, page, require_institution, visible
from egactl_govnet import validation, workflow
from egactl_govnet.backend.models import Onboarding, Site
from egactl_govnet.backend.records import checked, current_onboarding, get_site, serialize_site, site_key
from egactl_govnet.backend.schemas import SiteOut, SitePage

router = APIRouter(route_class=ApiRoute, tags=["govnet"])

RESOURCE = "govnet_site"
"""The audit resource type of a site and of everything that happens to its onboarding."""


class SiteIn(BaseModel):
    institution: str
    name: str
    region: str
    district: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=200)
    contact_name: str | None = Field(default=None, max_length=120)
    contact_phone: str | None = None
    contact_email: str | None = None


def _email(value: str) -> str:
    if problem := check_email(value):
        raise ValueError(problem)
    return value


def _config_text(field: str, value: str | None) -> str | None:
    """Text that reaches the site's router configuration (422 unless a router takes it as it is)."""
    return checked(field, validation.check_config_text, value, field.replace("_", " ")) or None if value else None


def site_fields(body: SiteIn) -> dict[str, Any]:
    """The site as it will be stored: validated and normalised (422 on bad input)."""
    return {"institution": body.institution.strip().upper(),
            "name": checked("name", validation.check_site_name, body.name),
            "region": checked("region", validation.normalise_region, body.region),
            "district": _config_text("district", body.district), "address": _config_text("address", body.address),
            "contact_name": (checked("contact_name", validation.check_contact_name, body.contact_name)
                             if (body.contact_name or "").strip() else None),
            "contact_phone": checked("contact_phone", validation.normalise_phone, body.contact_phone) if body.contact_phone else None,
            "contact_email": checked("contact_email", _email, body.contact_email.strip()) if body.contact_email else None}


def create_site(fields: dict[str, Any]) -> Site:
    require_institution(fields["institution"])
    now = backend().now()
    site = Site(**fields, version=1, created_at=now, updated_at=now)
    session = db()
    try:
        with session.begin_nested():
            session.add(site)
            session.flush()
    except IntegrityError:
        raise Problem(409, f"site {fields['institution']}/{fields['name']} already exists") from None
    audit.record("create", RESOURCE, site_key(site), institution=site.institution,
                 after={k: v for k, v in fields.items()})
    return site


def _serialize(site: Site) -> dict[str, Any]:
    return serialize_site(site, current_onboarding(site))


@router.get("/sites", response_model=SitePage)
def list_sites(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
               region: str | None = None, state: str | None = None):
    stmt = visible(select(Site), Site.institution, institution)
    if region:
        stmt = stmt.where(Site.region == checked("region", validation.normalise_region, region))
    if state:
        if state not in workflow.STATES:
            raise Problem(422, f"unknown state {state!r} (one of: {', '.join(workflow.STATES)})",
                          errors=[{"field": "state", "message": "unknown"}])
        latest = select(Onboarding.site_id, func.max(Onboarding.id).label("id")).group_by(Onboarding.site_id).subquery()
        stmt = (stmt.join(latest, latest.c.site_id == Site.id).join(Onboarding, Onboarding.id == latest.c.id)
                .where(Onboarding.state == state))
    return page(db(), stmt, Site.id, cursor=cursor, limit=limit, serialize=_serialize)


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
