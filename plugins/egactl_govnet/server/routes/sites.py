"""/api/v1/govnet/sites: an institution's sites, and each site's story from the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import delete, func, select

from egactl.plugin.rules import RuleError, time_for_people
from egactl.plugin.server import (ApiRoute, AuditEntry, audit, backend, conflict, db, etag, invalid, iso, lock, page,
                                  principal, require_institution, same_or_conflict, visible)
from egactl_govnet import rules
from egactl_govnet.server import allocator
from egactl_govnet.server.models import Allocation, Onboarding, Pool, Site
from egactl_govnet.server.schemas import SiteIn, SiteOut, SitePage, SitePatch
from egactl_govnet.server.service import (RESOURCE, audit_release, create_site, current_onboarding, get_site,
                                          open_onboarding, serialize_site, site_fields, site_key)

FIELDS = ("region", "district", "address", "contact_name", "contact_phone", "contact_email")
"""What a site's update may change (its institution and name are its identity)."""

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


@router.post("/sites", status_code=201, response_model=SiteOut,
             responses={200: {"model": SiteOut, "description": "It exists already, exactly as asked: nothing changed"}})
def post_site(body: SiteIn):
    """201 with the new site; 200 with the site when it already exists as asked (a field not
    sent asks nothing; running a create again changes nothing); 409 naming the fields that differ."""
    fields = site_fields(body)
    require_institution(fields["institution"])
    existing = db().scalar(select(Site).where(Site.institution == fields["institution"], Site.name == fields["name"]))
    if existing is not None:  # the SDK's create rule: as asked → 200 "exists"; otherwise 409 naming the fields
        same_or_conflict(existing, {f: fields[f] for f in FIELDS}, what=f"site {site_key(existing)}")
        return etag.respond(_serialize(existing), existing.version, status_code=200)
    site = create_site(fields)
    return etag.respond(_serialize(site), site.version, status_code=201,
                        headers={"Location": f"/api/v1/govnet/sites/{site.institution}/{site.name}"})


@router.get("/sites/{institution}/{name}", response_model=SiteOut)
def show_site(institution: str, name: str):
    site = get_site(institution, name)
    return etag.respond(_serialize(site), site.version)


def _for_change(institution: str, name: str) -> Site:
    """The site, locked and held against the request's If-Match, if the caller may change it
    (admins, and operators of the site's institution, as for creating one)."""
    site = get_site(institution, name)
    principal().check_write(site.institution)
    return etag.guard(site, f"site {site_key(site)}")


@router.patch("/sites/{institution}/{name}", response_model=SiteOut)
def update_site(institution: str, name: str, body: SitePatch):
    site = _for_change(institution, name)
    changes = body.model_dump(exclude_unset=True)
    if "region" in changes and changes["region"] is None:
        raise invalid("region cannot be empty", "region")
    changed = {f: v for f, v in changes.items() if getattr(site, f) != v}
    if changed:
        before = {f: getattr(site, f) for f in changed}
        for field, value in changed.items():
            setattr(site, field, value)
        site.updated_at = backend().now()
        db().flush()
        audit.record("update", RESOURCE, site_key(site), institution=site.institution, before=before, after=changed)
    return etag.respond(_serialize(site), site.version)


@router.delete("/sites/{institution}/{name}", response_model=SiteOut)
def delete_site(institution: str, name: str):
    """Remove a site with no onboarding in progress and no prefix or VLAN still held for it."""
    site = _for_change(institution, name)
    key = site_key(site)
    session = db()
    ob = open_onboarding(site)
    if ob is not None:
        raise conflict(f"site {key} is {ob.state} (request {ob.id}); offboard it first with "
                       f"`egactl govnet offboard {key}`", state=ob.state)
    mine = select(Onboarding.id).where(Onboarding.site_id == site.id)
    for pool_id in set(session.scalars(select(Allocation.pool_id).where(Allocation.onboarding_id.in_(mine)))):
        pool = session.get(Pool, pool_id)
        lock(session, allocator.pool_lock(pool.id))
        allocator.release_expired(session, pool, backend().now(), audit_release)
    held = session.execute(select(Allocation, Onboarding).join(Onboarding, Onboarding.id == Allocation.onboarding_id)
                           .where(Onboarding.site_id == site.id).order_by(Allocation.hold_until.desc())).first()
    if held is not None:
        alloc, old = held
        raise conflict(f"site {key}'s prefix {old.prefix} and VLAN {alloc.vlan} are held until "
                       f"{time_for_people(alloc.hold_until)}; "
                       f"the site can be deleted once they are back in the pool", hold_until=iso(alloc.hold_until))
    before = _serialize(site)
    session.execute(delete(Onboarding).where(Onboarding.site_id == site.id))  # closed requests: the audit log keeps them
    session.delete(site)
    session.flush()
    audit.record("delete", RESOURCE, key, institution=before["institution"], before=before)
    return before


@router.get("/sites/{institution}/{name}/history", response_model=audit.AuditPage)
def site_history(institution: str, name: str, cursor: str | None = None, limit: int | None = None,
                 oldest_first: bool = False):
    """The site's audit entries, newest first unless ``oldest_first``; the help desk's without before/after."""
    site = get_site(institution, name)
    stmt = audit.query(resource_type=RESOURCE, resource_id=site_key(site))
    with_data = not principal().masks_personal_data
    return page(db(), stmt, AuditEntry.id, cursor=cursor, limit=limit, order_by=AuditEntry.at,
                oldest_first=oldest_first, serialize=lambda e: audit.serialize(e, with_data=with_data))
