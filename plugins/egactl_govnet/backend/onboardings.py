"""/api/v1/govnet/onboardings: requests, and every step of the workflow.

Each step is ``POST /onboardings/{id}/{action}``; whether it is legal is
decided by ``egactl_govnet.workflow`` and nowhere else. Provisioning takes the
prefix and the VLAN here, in the request's one transaction, under the pool's
lock: a client never reads what is free and then asks for it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, lock, page, principal,
                                  require_institution, visible)
from egactl_govnet import addressing, validation, workflow
from egactl_govnet.backend import allocator
from egactl_govnet.backend.models import Allocation, Onboarding, Pool, PoolVlans, Site
from egactl_govnet.backend.records import (checked, get_onboarding, get_pool, get_site, pool_vlans,
                                           serialize_onboarding, site_key)
from egactl_govnet.backend.schemas import OnboardingOut, OnboardingPage
from egactl_govnet.backend.sites import RESOURCE

router = APIRouter(route_class=ApiRoute, tags=["govnet"])

PLUGIN = "govnet"
STAMPS = {workflow.APPROVED: "approved_at", workflow.PROVISIONED: "provisioned_at", workflow.ACTIVE: "activated_at",
          workflow.SUSPENDED: "suspended_at", workflow.DECOMMISSIONED: "decommissioned_at"}


class OnboardIn(BaseModel):
    institution: str
    site: str
    bandwidth: str = Field(description="Committed rate asked for, in bits per second: 512k, 20M, 1G")
    prefix_length: int | None = Field(default=None, description="Default: the pool's default prefix length")
    pop: str | None = Field(default=None, description="Default: the PoP of the site's region, or the pool's only PoP")
    pool: str | None = Field(default=None, description="Default: the pool serving the site's region")
    notes: str | None = Field(default=None, max_length=500)


class StepIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class ProvisionIn(StepIn):
    provider: str = Field(min_length=2, max_length=64, description="Circuit provider, e.g. TTCL")
    circuit_id: str = Field(min_length=1, max_length=64)
    committed_rate: str | None = Field(default=None, description="Default: the requested bandwidth")


class ActivateIn(StepIn):
    latency_ms: float = Field(ge=0, le=10_000)
    loss_pct: float = Field(ge=0, le=100)
    throughput: str = Field(description="Measured throughput, e.g. 19.6M")


class SuspendIn(StepIn):
    reason: str = Field(min_length=3, max_length=500)


# -- opening a request ------------------------------------------------------------------


def _pool_for(site: Site, name: str | None) -> Pool:
    if name:
        return get_pool(name)
    pools = db().scalars(select(Pool).where(Pool.region == site.region).order_by(Pool.name)).all()
    if len(pools) == 1:
        return pools[0]
    if not pools:
        raise Problem(422, f"no pool serves region {site.region}; name one with --pool",
                      errors=[{"field": "pool", "message": "required"}])
    raise Problem(422, f"several pools serve region {site.region} ({', '.join(p.name for p in pools)}); name one with --pool",
                  errors=[{"field": "pool", "message": "ambiguous"}])


def _pop_for(site: Site, pool: Pool, given: str | None) -> str:
    served = [v.pop for v in pool_vlans(pool)]
    if given:
        pop = checked("pop", validation.normalise_pop, given)
        if pop not in served:
            raise Problem(422, f"pool {pool.name} has no VLANs at PoP {pop} (it has: {', '.join(served)})",
                          errors=[{"field": "pop", "message": "not served by the pool"}])
        return pop
    if validation.pop_of_region(site.region) in served:
        return validation.pop_of_region(site.region)
    if len(served) == 1:
        return served[0]
    raise Problem(422, f"pool {pool.name} serves several PoPs ({', '.join(served)}); name one with --pop",
                  errors=[{"field": "pop", "message": "required"}])


def request_fields(body: OnboardIn) -> tuple[Site, dict[str, Any]]:
    """Validate a request against the site and its pool; (site, the onboarding's columns)."""
    institution = body.institution.strip().upper()
    require_institution(institution)
    name = checked("site", validation.check_site_name, body.site)
    bps = checked("bandwidth", validation.parse_bandwidth, body.bandwidth)
    site = get_site(institution, name)
    pool = _pool_for(site, body.pool)
    length = body.prefix_length or pool.default_prefix_length
    checked("prefix_length", validation.check_prefix_length, length, addressing.network((pool.start, pool.length)))
    pop = _pop_for(site, pool, body.pop)
    return site, {"pool_id": pool.id, "pop": pop, "prefix_length": length, "bandwidth_bps": bps,
                  "notes": (body.notes or "").strip() or None}


def open_request(site: Site, fields: dict[str, Any]) -> Onboarding:
    now = backend().now()
    ob = Onboarding(site_id=site.id, open=1, state=workflow.REQUESTED, state_since=now, requested_at=now,
                    requested_by=principal().subject, version=1, **fields)
    session = db()
    try:
        with session.begin_nested():
            session.add(ob)
            session.flush()
    except IntegrityError:
        current = session.scalar(select(Onboarding).where(Onboarding.site_id == site.id, Onboarding.open == 1))
        what = f" (#{current.id}, {current.state})" if current else ""
        raise Problem(409, f"site {site_key(site)} already has an open onboarding request{what}") from None
    audit.record("onboard", RESOURCE, site_key(site), institution=site.institution,
                 after=serialize_onboarding(ob, site))
    return ob


@router.post("/onboardings", status_code=201, response_model=OnboardingOut)
def post_onboarding(body: OnboardIn):
    site, fields = request_fields(body)
    ob = open_request(site, fields)
    return etag.respond(serialize_onboarding(ob, site), ob.version, status_code=201,
                        headers={"Location": f"/api/v1/govnet/onboardings/{ob.id}"})


@router.get("/onboardings", response_model=OnboardingPage)
def list_onboardings(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                     state: str | None = None, pool: str | None = None):
    stmt = visible(select(Onboarding).join(Site, Site.id == Onboarding.site_id), Site.institution, institution)
    if state:
        stmt = stmt.where(Onboarding.state == state)
    if pool:
        stmt = stmt.where(Onboarding.pool_id == get_pool(pool).id)
    return page(db(), stmt, Onboarding.id, cursor=cursor, limit=limit,
                serialize=lambda ob: serialize_onboarding(ob, db().get(Site, ob.site_id)))


@router.get("/onboardings/{onboarding_id}", response_model=OnboardingOut)
def show_onboarding(onboarding_id: int):
    ob, site = get_onboarding(onboarding_id)
    return etag.respond(serialize_onboarding(ob, site), ob.version)


# -- the steps ------------------------------------------------------------------------


def _begin(onboarding_id: int, action: str, request: Request) -> tuple[Onboarding, Site, dict[str, Any], str]:
    ob, site = get_onboarding(onboarding_id, for_update=True)
    if action == "offboard":
        principal().check_write(site.institution)
    else:
        principal().require("admin")
    etag.check(request, ob.version)
    try:
        target = workflow.next_state(action, ob.state)
    except workflow.IllegalTransition as exc:
        raise Problem(409, f"{site_key(site)}: {exc}", state=ob.state) from None
    return ob, site, serialize_onboarding(ob, site), target


def _finish(ob: Onboarding, site: Site, before: dict[str, Any], action: str, target: str, reason: str | None):
    now = backend().now()
    ob.state = target
    ob.state_since = now
    if action != "resume":  # activated_at keeps the first activation; state_since says since when
        setattr(ob, STAMPS[target], now)
    db().flush()
    after = serialize_onboarding(ob, site)
    audit.record(action, RESOURCE, site_key(site), institution=site.institution, before=before, after=after,
                 reason=reason)
    return etag.respond(after, ob.version)


@router.post("/onboardings/{onboarding_id}/approve", response_model=OnboardingOut)
def approve(onboarding_id: int, request: Request, body: StepIn | None = None):
    ob, site, before, target = _begin(onboarding_id, "approve", request)
    return _finish(ob, site, before, "approve", target, body and body.reason)


def release_details(session: Session, alloc: Allocation) -> tuple[str, str, dict[str, Any]]:
    """(site key, institution, what was released) for the audit entry of a hold ending."""
    ob = session.get(Onboarding, alloc.onboarding_id)
    site = session.get(Site, ob.site_id)
    return site_key(site), site.institution, {"onboarding": ob.id, "prefix": ob.prefix, "pop": alloc.pop,
                                              "vlan": alloc.vlan, "hold_until": alloc.hold_until}


def _audit_release(alloc: Allocation) -> None:
    key, institution, details = release_details(db(), alloc)
    audit.record("release", RESOURCE, key, institution=institution, before=details,
                 reason="hold period ended; prefix and VLAN returned to the pool")


def _full(pool: Pool, length: int) -> Problem:
    largest = allocator.largest_free_length(db(), pool)
    left = f"the largest free block is a /{largest}" if largest is not None else "nothing is free"
    return Problem(409, f"pool {pool.name} ({pool.cidr}) is full: no free /{length} left ({left})", pool=pool.name)


PROVISION_THREADS = 8


def _waiting_room(request: Request):
    """The threads provisioning may use, apart from the server's shared pool.

    A provisioning request waits for its pool's lock inside its thread. Were
    those threads taken from the shared pool, a burst of provisions (more than
    the pool has threads) would leave no thread for the lock holder to commit
    with, and every request would wait on it for ever. With their own few
    threads, waiting provisions never starve the commits that free them.
    """
    import anyio

    state = request.app.state
    if getattr(state, "govnet_provision_limiter", None) is None:
        state.govnet_provision_limiter = anyio.CapacityLimiter(PROVISION_THREADS)
    return state.govnet_provision_limiter


@router.post("/onboardings/{onboarding_id}/provision", response_model=OnboardingOut)
async def provision(onboarding_id: int, body: ProvisionIn, request: Request):
    """Allocate the site's prefix and VLAN (the next free of each) and record its circuit."""
    import anyio

    return await anyio.to_thread.run_sync(_provision, onboarding_id, body, request, limiter=_waiting_room(request))


def _provision(onboarding_id: int, body: ProvisionIn, request: Request):
    ob, site, before, target = _begin(onboarding_id, "provision", request)
    committed = checked("committed_rate", validation.parse_bandwidth, body.committed_rate) if body.committed_rate else ob.bandwidth_bps
    provider = checked("provider", validation.check_config_text, body.provider, "provider").upper()
    circuit = checked("circuit_id", validation.check_config_text, body.circuit_id, "circuit id")
    session = db()
    other = session.scalar(select(Onboarding).where(Onboarding.provider == provider, Onboarding.circuit_id == circuit,
                                                    Onboarding.open == 1))
    if other is not None:
        other_site = session.get(Site, other.site_id)
        raise Problem(409, f"circuit {provider} {circuit} is already recorded for site {site_key(other_site)}")

    pool = session.get(Pool, ob.pool_id)
    lock(session, allocator.pool_lock(pool.id))
    allocator.release_expired(session, pool, backend().now(), _audit_release)
    vlans = session.scalar(select(PoolVlans).where(PoolVlans.pool_id == pool.id, PoolVlans.pop == ob.pop))
    if vlans is None:
        raise Problem(409, f"pool {pool.name} no longer has VLANs at PoP {ob.pop}")
    block = allocator.take_prefix(session, pool, ob.prefix_length)
    if block is None:
        raise _full(pool, ob.prefix_length)
    vlan = allocator.take_vlan(session, pool, ob.pop)
    if vlan is None:
        raise Problem(409, f"pool {pool.name} has no free VLAN left at PoP {ob.pop} ({vlans.first}-{vlans.last} are all in use)",
                      pool=pool.name)
    session.add(Allocation(pool_id=pool.id, onboarding_id=ob.id, start=block[0], length=block[1], pop=ob.pop, vlan=vlan))
    ob.prefix, ob.vlan = addressing.cidr(block), vlan
    ob.provider, ob.circuit_id, ob.committed_bps = provider, circuit, committed
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Problem(409, f"pool {pool.name}: the allocation collided with a concurrent one; try again") from None
    return _finish(ob, site, before, "provision", target, body.reason)


@router.post("/onboardings/{onboarding_id}/activate", response_model=OnboardingOut)
def activate(onboarding_id: int, body: ActivateIn, request: Request):
    ob, site, before, target = _begin(onboarding_id, "activate", request)
    measured = checked("throughput", validation.parse_bandwidth, body.throughput)
    max_loss = float(backend().setting(PLUGIN, "max_loss_pct"))
    min_ratio = float(backend().setting(PLUGIN, "min_throughput_ratio"))
    committed = ob.committed_bps or ob.bandwidth_bps
    failures = []
    if body.loss_pct > max_loss:
        failures.append(f"loss {body.loss_pct:g}% is above {max_loss:g}%")
    if measured < committed * min_ratio:
        failures.append(f"throughput {validation.format_bandwidth(measured)} is below {min_ratio:.0%} of "
                        f"the committed {validation.format_bandwidth(committed)}")
    if failures:
        raise Problem(409, f"{site_key(site)}: link test failed: {'; '.join(failures)}; the site stays {ob.state}")
    ob.link_test = {"latency_ms": body.latency_ms, "loss_pct": body.loss_pct, "throughput": validation.format_bandwidth(measured),
                    "throughput_bps": measured, "tested_at": backend().now().isoformat(), "tested_by": principal().subject}
    return _finish(ob, site, before, "activate", target, body.reason)


@router.post("/onboardings/{onboarding_id}/suspend", response_model=OnboardingOut)
def suspend(onboarding_id: int, body: SuspendIn, request: Request):
    ob, site, before, target = _begin(onboarding_id, "suspend", request)
    return _finish(ob, site, before, "suspend", target, body.reason)


@router.post("/onboardings/{onboarding_id}/resume", response_model=OnboardingOut)
def resume(onboarding_id: int, request: Request, body: StepIn | None = None):
    ob, site, before, target = _begin(onboarding_id, "resume", request)
    return _finish(ob, site, before, "resume", target, body and body.reason)


@router.post("/onboardings/{onboarding_id}/offboard", response_model=OnboardingOut)
def offboard(onboarding_id: int, request: Request, body: StepIn | None = None):
    """Close the request; a prefix and VLAN return to the pool only after the hold period."""
    ob, site, before, target = _begin(onboarding_id, "offboard", request)
    ob.open = None
    if ob.state in workflow.WITH_RESOURCES:
        hold_until = backend().now() + dt.timedelta(days=float(backend().setting(PLUGIN, "hold_days")))
        ob.hold_until = hold_until
        alloc = db().scalar(select(Allocation).where(Allocation.onboarding_id == ob.id))
        if alloc is not None:
            alloc.hold_until = hold_until
    return _finish(ob, site, before, "offboard", target, body and body.reason)
