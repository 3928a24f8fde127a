"""/api/v1/govnet/onboardings: requests, and every step of the workflow.

Each step is ``POST /onboardings/{id}/{action}``; whether it is legal is
decided by the lifecycle in ``egactl_govnet.rules`` and nowhere else (an
illegal step is the route frame's 409). Provisioning takes the prefix and the
VLAN here, in the request's one transaction, under the pool's lock: a client
never reads what is free and then asks for it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, conflict, db, etag, insert_unique, iso, lock,
                                  page, principal, visible)
from egactl_govnet import addressing, rules
from egactl_govnet.server import allocator
from egactl_govnet.server.models import Allocation, Onboarding, Pool, PoolVlans, Site
from egactl_govnet.server.schemas import (ActivateIn, OnboardingOut, OnboardingPage, OnboardIn, ProvisionIn, StepIn,
                                          SuspendIn)
from egactl_govnet.server.service import (RESOURCE, audit_release, get_onboarding, get_pool, open_request, request_fields,
                                          serialize_onboarding, site_key)

router = APIRouter(route_class=ApiRoute, tags=["govnet"])

PLUGIN = "govnet"
STAMPS = {rules.APPROVED: "approved_at", rules.PROVISIONED: "provisioned_at", rules.ACTIVE: "activated_at",
          rules.SUSPENDED: "suspended_at", rules.DECOMMISSIONED: "decommissioned_at"}


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
                serialize=lambda ob: serialize_onboarding(ob, db().get(Site, ob.site_id)), oldest_first=True)


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
    target = rules.ONBOARDING.next_state(action, ob.state)  # IllegalTransition: the frame's 409
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


def _full(pool: Pool, length: int) -> Problem:
    largest = allocator.largest_free_length(db(), pool)
    left = f"the largest free block is a /{largest}" if largest is not None else "nothing is free"
    return conflict(f"pool {pool.name} ({pool.cidr}) is full: no free /{length} left ({left})", pool=pool.name)


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
    committed = rules.parse_bandwidth(body.committed_rate) if body.committed_rate else ob.bandwidth_bps
    provider, circuit = body.provider.upper(), body.circuit_id
    session = db()
    other = session.scalar(select(Onboarding).where(Onboarding.provider == provider, Onboarding.circuit_id == circuit,
                                                    Onboarding.open == 1))
    if other is not None:
        other_site = session.get(Site, other.site_id)
        raise conflict(f"circuit {provider} {circuit} is already recorded for site {site_key(other_site)}")

    pool = session.get(Pool, ob.pool_id)
    lock(session, allocator.pool_lock(pool.id))
    allocator.release_expired(session, pool, backend().now(), audit_release)
    vlans = session.scalar(select(PoolVlans).where(PoolVlans.pool_id == pool.id, PoolVlans.pop == ob.pop))
    if vlans is None:
        raise conflict(f"pool {pool.name} no longer has VLANs at PoP {ob.pop}")
    block = allocator.take_prefix(session, pool, ob.prefix_length)
    if block is None:
        raise _full(pool, ob.prefix_length)
    vlan = allocator.take_vlan(session, pool, ob.pop)
    if vlan is None:
        raise conflict(f"pool {pool.name} has no free VLAN left at PoP {ob.pop} ({vlans.first}-{vlans.last} are all in use)",
                       pool=pool.name)
    ob.prefix, ob.vlan = addressing.cidr(block), vlan
    ob.provider, ob.circuit_id, ob.committed_bps = provider, circuit, committed
    insert_unique(Allocation(pool_id=pool.id, onboarding_id=ob.id, start=block[0], length=block[1], pop=ob.pop, vlan=vlan),
                  f"pool {pool.name}: the allocation collided with a concurrent one; try again")
    return _finish(ob, site, before, "provision", target, body.reason)


@router.post("/onboardings/{onboarding_id}/activate", response_model=OnboardingOut)
def activate(onboarding_id: int, body: ActivateIn, request: Request):
    ob, site, before, target = _begin(onboarding_id, "activate", request)
    measured = rules.parse_bandwidth(body.throughput)
    max_loss = float(backend().setting(PLUGIN, "max_loss_pct"))
    min_ratio = float(backend().setting(PLUGIN, "min_throughput_ratio"))
    committed = ob.committed_bps or ob.bandwidth_bps
    failures = []
    if body.loss_pct > max_loss:
        failures.append(f"loss {body.loss_pct:g}% is above {max_loss:g}%")
    if measured < committed * min_ratio:
        failures.append(f"throughput {rules.format_bandwidth(measured)} is below {min_ratio:.0%} of "
                        f"the committed {rules.format_bandwidth(committed)}")
    if failures:
        raise conflict(f"{site_key(site)}: link test failed: {'; '.join(failures)}; the site stays {ob.state}")
    ob.link_test = {"latency_ms": body.latency_ms, "loss_pct": body.loss_pct, "throughput": rules.format_bandwidth(measured),
                    "throughput_bps": measured, "tested_at": iso(backend().now()), "tested_by": principal().subject}
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
    if ob.state in rules.WITH_RESOURCES:
        hold_until = backend().now() + dt.timedelta(days=float(backend().setting(PLUGIN, "hold_days")))
        ob.hold_until = hold_until
        alloc = db().scalar(select(Allocation).where(Allocation.onboarding_id == ob.id))
        if alloc is not None:
            alloc.hold_until = hold_until
    return _finish(ob, site, before, "offboard", target, body and body.reason)
