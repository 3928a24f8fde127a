"""Finding GovNet's records for a request, and showing them as the API's JSON.

Lookups check the caller's right to read; the JSON here is the documented
schema that ``-o json`` passes through unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from sqlalchemy import select

from egactl.plugin.server import Problem, backend, db, mask_name, mask_phone, not_found, principal
from egactl_govnet import validation
from egactl_govnet.backend.models import Onboarding, Pool, PoolVlans, Site

T = TypeVar("T")


def checked(field: str, rule: Callable[..., T], *args: Any) -> T:
    """Apply a validation rule; its ValueError becomes a 422 naming the field."""
    try:
        return rule(*args)
    except ValueError as exc:
        raise Problem(422, str(exc), errors=[{"field": field, "message": "invalid"}]) from None


def site_key(site: Site) -> str:
    return f"{site.institution}/{site.name}"


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


def pool_vlans(pool: Pool) -> list[PoolVlans]:
    return list(db().scalars(select(PoolVlans).where(PoolVlans.pool_id == pool.id).order_by(PoolVlans.pop)))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


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
            "version": site.version, "created_at": _iso(site.created_at), "updated_at": _iso(site.updated_at)}


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
                   "committed_rate": validation.format_bandwidth(ob.committed_bps or 0),
                   "committed_bps": ob.committed_bps}
    return {"id": ob.id, "site": site_key(site), "institution": site.institution, "region": site.region,
            "state": ob.state, "state_since": _iso(ob.state_since), "pool": pool_name, "pop": ob.pop,
            "prefix_length": ob.prefix_length, "prefix": ob.prefix, "vlan": ob.vlan,
            "bandwidth": validation.format_bandwidth(ob.bandwidth_bps), "bandwidth_bps": ob.bandwidth_bps,
            "circuit": circuit, "link_test": ob.link_test, "resources": resources_status(ob),
            "hold_until": _iso(ob.hold_until), "released_at": _iso(ob.released_at),
            "requested_by": ob.requested_by, "requested_at": _iso(ob.requested_at),
            "approved_at": _iso(ob.approved_at), "provisioned_at": _iso(ob.provisioned_at),
            "activated_at": _iso(ob.activated_at), "suspended_at": _iso(ob.suspended_at),
            "decommissioned_at": _iso(ob.decommissioned_at), "notes": ob.notes, "version": ob.version}
