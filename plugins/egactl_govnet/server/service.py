"""What GovNet's routes and its worker share: finding records, opening sites and
requests, and showing them as the API's JSON.

Lookups check the caller's right to read; the JSON here is the documented
schema that ``-o json`` passes through unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egactl.plugin.server import (audit, backend, conflict, db, insert_unique, invalid, iso, mask_name, mask_phone, not_found,
                                  principal, require_institution)
from egactl_govnet import addressing, rules
from egactl_govnet.server.models import Allocation, Onboarding, Pool, PoolVlans, Site
from egactl_govnet.server.schemas import OnboardIn, SiteIn

RESOURCE = "govnet_site"
"""The audit resource type of a site and of everything that happens to its onboarding."""


def site_key(site: Site) -> str:
    return f"{site.institution}/{site.name}"


def holdings(session: Session, institution: str) -> dict[str, int]:
    """The institution's GovNet sites (each with its onboardings, prefix and VLAN)."""
    return {"GovNet sites": session.scalar(select(func.count()).select_from(Site)
                                           .where(Site.institution == institution))}


# -- lookups ----------------------------------------------------------------------------


def get_pool(name: str) -> Pool:
    pool = db().scalar(select(Pool).where(Pool.name == name.strip().lower()))
    if pool is None:
        raise not_found(f"pool {name}")
    return pool


def get_site(institution: str, name: str) -> Site:
    code = institution.upper()
    principal().check_read(code)
    site = db().scalar(select(Site).where(Site.institution == code, Site.name == name))
    if site is None:
        raise not_found(f"site {code}/{name}")
    return site


def get_onboarding(onboarding_id: int, *, for_update: bool = False) -> tuple[Onboarding, Site]:
    stmt = select(Onboarding).where(Onboarding.id == onboarding_id)
    if for_update:
        stmt = stmt.with_for_update()
    ob = db().scalar(stmt)
    if ob is None:
        raise not_found(f"onboarding request {onboarding_id}")
    site = db().get(Site, ob.site_id)
    principal().check_read(site.institution)
    return ob, site


def current_onboarding(site: Site) -> Onboarding | None:
    """The site's latest request. A new one can be opened only when none is open,
    so the open request, if any, is always the latest."""
    return db().scalar(select(Onboarding).where(Onboarding.site_id == site.id).order_by(Onboarding.id.desc()).limit(1))


def open_onboarding(site: Site) -> Onboarding | None:
    return db().scalar(select(Onboarding).where(Onboarding.site_id == site.id, Onboarding.open == 1))


def pool_vlans(pool: Pool) -> list[PoolVlans]:
    return list(db().scalars(select(PoolVlans).where(PoolVlans.pool_id == pool.id).order_by(PoolVlans.pop)))


# -- sites and requests -------------------------------------------------------------------


def site_fields(body: SiteIn) -> dict[str, Any]:
    """The site as it will be stored (the body's rules have normalised it)."""
    return {"institution": body.institution.strip().upper(), "name": body.name, "region": body.region,
            "district": body.district, "address": body.address, "contact_name": body.contact_name,
            "contact_phone": body.contact_phone, "contact_email": body.contact_email}


def create_site(fields: dict[str, Any]) -> Site:
    require_institution(fields["institution"])
    now = backend().now()
    site = insert_unique(Site(**fields, version=1, created_at=now, updated_at=now),
                         f"site {fields['institution']}/{fields['name']} already exists")
    audit.record("create", RESOURCE, site_key(site), institution=site.institution, after=dict(fields))
    return site


def _pool_for(site: Site, name: str | None) -> Pool:
    if name:
        return get_pool(name)
    pools = db().scalars(select(Pool).where(Pool.region == site.region).order_by(Pool.name)).all()
    if len(pools) == 1:
        return pools[0]
    if not pools:
        raise invalid(f"no pool serves region {site.region}; name one with --pool", "pool")
    raise invalid(f"several pools serve region {site.region} ({', '.join(p.name for p in pools)}); name one with --pool",
                  "pool")


def _pop_for(site: Site, pool: Pool, pop: str | None) -> str:
    served = [v.pop for v in pool_vlans(pool)]
    if pop:
        if pop not in served:
            raise invalid(f"pool {pool.name} has no VLANs at PoP {pop} (it has: {', '.join(served)})", "pop")
        return pop
    if rules.pop_of_region(site.region) in served:
        return rules.pop_of_region(site.region)
    if len(served) == 1:
        return served[0]
    raise invalid(f"pool {pool.name} serves several PoPs ({', '.join(served)}); name one with --pop", "pop")


def request_fields(body: OnboardIn) -> tuple[Site, dict[str, Any]]:
    """Check a request against the site and its pool; (site, the onboarding's columns)."""
    institution = body.institution.strip().upper()
    require_institution(institution)
    site = get_site(institution, body.site)
    pool = _pool_for(site, body.pool)
    length = body.prefix_length or pool.default_prefix_length
    if problem := rules.check_prefix_length(length, addressing.network((pool.start, pool.length))):
        raise invalid(problem, "prefix_length")
    return site, {"pool_id": pool.id, "pop": _pop_for(site, pool, body.pop), "prefix_length": length,
                  "bandwidth_bps": rules.parse_bandwidth(body.bandwidth), "notes": body.notes}


def open_request(site: Site, fields: dict[str, Any]) -> Onboarding:
    """A new request of the site; a site has one open request at most (the database's constraint decides)."""
    now = backend().now()
    ob = Onboarding(site_id=site.id, open=1, state=rules.REQUESTED, state_since=now, requested_at=now,
                    requested_by=principal().subject, version=1, **fields)
    current = open_onboarding(site)
    if current is not None:
        raise conflict(f"site {site_key(site)} already has an open onboarding request (#{current.id}, {current.state})")
    insert_unique(ob, f"site {site_key(site)} already has an open onboarding request")  # a concurrent one won
    audit.record("onboard", RESOURCE, site_key(site), institution=site.institution,
                 after=serialize_onboarding(ob, site))
    return ob


RELEASE_REASON = "hold period ended; prefix and VLAN returned to the pool"
"""The reason of the audit entry written when a hold ends (by provisioning or by the worker)."""


def release_details(session: Session, alloc: Allocation) -> tuple[str, str, dict[str, Any]]:
    """(site key, institution, what was released) for the audit entry of a hold ending."""
    ob = session.get(Onboarding, alloc.onboarding_id)
    site = session.get(Site, ob.site_id)
    return site_key(site), site.institution, {"onboarding": ob.id, "prefix": ob.prefix, "pop": alloc.pop,
                                              "vlan": alloc.vlan, "hold_until": alloc.hold_until}


def audit_release(alloc: Allocation) -> None:
    """The audit entry of a hold ending inside a request (provisioning, a pool's or site's change)."""
    key, institution, details = release_details(db(), alloc)
    audit.record("release", RESOURCE, key, institution=institution, before=details, reason=RELEASE_REASON)


# -- the API's JSON -------------------------------------------------------------------------


def _mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def serialize_site(site: Site, onboarding: Onboarding | None = None) -> dict[str, Any]:
    masked = principal().masks_personal_data
    contact = {"name": site.contact_name, "phone": site.contact_phone, "email": site.contact_email}
    if masked:
        contact = {"name": mask_name(site.contact_name), "phone": mask_phone(site.contact_phone),
                   "email": _mask_email(site.contact_email)}
    return {"site": site_key(site), "institution": site.institution, "name": site.name, "region": site.region,
            "district": site.district, "address": site.address, "contact": contact,
            "state": onboarding.state if onboarding else None,
            "onboarding": serialize_onboarding(onboarding, site) if onboarding else None,
            "version": site.version, "created_at": iso(site.created_at), "updated_at": iso(site.updated_at)}


def resources_status(ob: Onboarding) -> str | None:
    """What became of the prefix and VLAN: allocated, held (until hold_until), released."""
    if ob.prefix is None:
        return None
    if ob.hold_until is None:
        return "allocated"
    if ob.released_at is not None or ob.hold_until <= backend().now():
        return "released"
    return "held"


def serialize_onboarding(ob: Onboarding, site: Site, pool_name: str | None = None) -> dict[str, Any]:
    if pool_name is None:
        pool_name = db().scalar(select(Pool.name).where(Pool.id == ob.pool_id))
    circuit = None
    if ob.provider is not None:
        circuit = {"provider": ob.provider, "circuit_id": ob.circuit_id,
                   "committed_rate": rules.format_bandwidth(ob.committed_bps or 0),
                   "committed_bps": ob.committed_bps}
    return {"id": ob.id, "site": site_key(site), "institution": site.institution, "region": site.region,
            "state": ob.state, "state_since": iso(ob.state_since), "pool": pool_name, "pop": ob.pop,
            "prefix_length": ob.prefix_length, "prefix": ob.prefix, "vlan": ob.vlan,
            "bandwidth": rules.format_bandwidth(ob.bandwidth_bps), "bandwidth_bps": ob.bandwidth_bps,
            "circuit": circuit, "link_test": ob.link_test, "resources": resources_status(ob),
            "hold_until": iso(ob.hold_until), "released_at": iso(ob.released_at),
            "requested_by": ob.requested_by, "requested_at": iso(ob.requested_at),
            "approved_at": iso(ob.approved_at), "provisioned_at": iso(ob.provisioned_at),
            "activated_at": iso(ob.activated_at), "suspended_at": iso(ob.suspended_at),
            "decommissioned_at": iso(ob.decommissioned_at), "notes": ob.notes, "version": ob.version}
