"""/api/v1/govnet/pools: address pools, their VLAN ranges per PoP, and how full they are."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter
from sqlalchemy import delete, func, select

from egactl.plugin.rules import RuleError
from egactl.plugin.server import (ApiRoute, audit, backend, conflict, db, etag, invalid, iso, lock, page, principal,
                                  same_or_conflict)
from egactl_govnet import addressing, rules
from egactl_govnet.server import allocator
from egactl_govnet.server.models import Allocation, FreeBlock, FreeVlans, Onboarding, Pool, PoolVlans
from egactl_govnet.server.schemas import PoolDetail, PoolIn, PoolOut, PoolPage, PoolPatch
from egactl_govnet.server.service import audit_release, get_pool, pool_vlans

router = APIRouter(route_class=ApiRoute, tags=["govnet"])

POOLS_LOCK = "govnet-pools"


def serialize(pool: Pool, *, with_free_blocks: bool = False) -> dict[str, Any]:
    session = db()
    free = allocator.free_space(session, pool, backend().now())
    use = addressing.usage((pool.start, pool.length), free)
    vlans = []
    for v in pool_vlans(pool):
        used = allocator.vlans_used(session, v, backend().now())
        total = v.last - v.first + 1
        vlans.append({"pop": v.pop, "first": v.first, "last": v.last, "total": total, "used": used, "free": total - used})
    data = {"name": pool.name, "cidr": pool.cidr, "prefix_length": pool.length,
            "default_prefix_length": pool.default_prefix_length, "region": pool.region,
            "description": pool.description, "vlans": vlans, "usage": use.as_dict(pool.default_prefix_length),
            "version": pool.version, "created_at": iso(pool.created_at)}
    if with_free_blocks:
        data["free_blocks"] = [addressing.cidr(b) for b in free]
    return data


@router.get("/pools", response_model=PoolPage)
def list_pools(cursor: str | None = None, limit: int | None = None, region: str | None = None):
    stmt = select(Pool)
    if region:
        try:
            stmt = stmt.where(Pool.region == rules.normalise_region(region))
        except RuleError as exc:
            raise invalid(str(exc), "region") from None
    return page(db(), stmt, Pool.id, cursor=cursor, limit=limit, serialize=serialize, oldest_first=True)


@router.get("/pools/{name}", response_model=PoolDetail)
def show_pool(name: str):
    pool = get_pool(name)
    return etag.respond(serialize(pool, with_free_blocks=True), pool.version)


AUDITED = ("name", "cidr", "default_prefix_length", "region", "description", "vlans")


def _audited(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in AUDITED}


def _vlan_ranges(vlans: list[Any]) -> list[tuple[str, int, int]]:
    """The body's VLAN ranges through the same rules as the command's --vlans (422 naming ``vlans``)."""
    try:
        ranges = [rules.parse_vlan_range(f"{v.pop}={v.first}-{v.last}") for v in vlans]
    except RuleError as exc:
        raise invalid(str(exc), "vlans") from None
    if problem := rules.check_vlan_ranges(ranges):
        raise invalid(problem, "vlans")
    return ranges


def _no_other_pool_overlaps(ranges: list[tuple[str, int, int]], pool_id: int | None = None) -> None:
    for pop, first, last in ranges:
        stmt = select(PoolVlans, Pool.name).join(Pool, Pool.id == PoolVlans.pool_id).where(
            PoolVlans.pop == pop, PoolVlans.first <= last, PoolVlans.last >= first)
        if pool_id is not None:
            stmt = stmt.where(PoolVlans.pool_id != pool_id)
        other = db().execute(stmt.limit(1)).first()
        if other is not None:
            v, pool_name = other
            raise invalid(f"VLANs {first}-{last} at {pop} overlap pool {pool_name}'s range {v.first}-{v.last}", "vlans")


@router.post("/pools", status_code=201, response_model=PoolOut,
             responses={200: {"model": PoolOut, "description": "It exists already, exactly as asked: nothing changed"}})
def create_pool(body: PoolIn):
    """201 with the new pool; 200 with the pool when it already exists as asked (a field not sent
    asks nothing); 409 naming the fields that differ."""
    principal().require("admin")
    name, net, region = body.name, ipaddress.IPv4Network(body.cidr), body.region
    default = body.default_prefix_length or max(29, net.prefixlen)
    if problem := rules.check_prefix_length(default, net):
        raise invalid(problem, "default_prefix_length")
    ranges = _vlan_ranges(body.vlans)

    session = db()
    lock(session, POOLS_LOCK)
    existing = session.scalar(select(Pool).where(Pool.name == name))
    if existing is not None:  # the SDK's create rule: as asked → 200 "exists"; otherwise 409 naming the fields
        if sorted(ranges) != sorted((v.pop, v.first, v.last) for v in pool_vlans(existing)):
            raise conflict(f"pool {name} already exists with other values for vlans", differs=["vlans"])
        same_or_conflict(existing, {"cidr": str(net), "default_prefix_length": body.default_prefix_length,
                                    "region": region, "description": body.description}, what=f"pool {name}")
        return etag.respond(serialize(existing), existing.version, status_code=200)
    start, stop = int(net.network_address), int(net.broadcast_address) + 1
    clash = session.scalar(select(Pool).where(Pool.start < stop, Pool.stop > start).limit(1))
    if clash is not None:
        raise invalid(f"{net} overlaps pool {clash.name} ({clash.cidr})", "cidr")
    _no_other_pool_overlaps(ranges)

    pool = allocator.new_pool(session, name=name, net=net, default_prefix_length=default, region=region,
                              description=body.description, vlans=ranges, now=backend().now())
    data = serialize(pool)
    audit.record("create", "govnet_pool", pool.name, after={k: data[k] for k in ("name", "cidr", "default_prefix_length",
                                                                              "region", "vlans")})
    return etag.respond(data, pool.version, status_code=201,
                        headers={"Location": f"/api/v1/govnet/pools/{pool.name}"})


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@router.patch("/pools/{name}", response_model=PoolOut)
def update_pool(name: str, body: PoolPatch):
    """Change a pool's description, default prefix length or VLAN ranges (admin).

    A VLAN range may grow, shrink or move only so far as every VLAN of that PoP
    in use or on hold stays inside it: stranding one is a 409.
    """
    principal().require("admin")
    session = db()
    lock(session, POOLS_LOCK)  # VLAN ranges are checked against every other pool's, as create does
    pool = etag.guard(get_pool(name), f"pool {name}")
    lock(session, allocator.pool_lock(pool.id))
    changes = body.model_dump(exclude_unset=True)
    net = addressing.network((pool.start, pool.length))
    if "default_prefix_length" in changes:
        if changes["default_prefix_length"] is None:
            raise invalid("default_prefix_length cannot be empty", "default_prefix_length")
        if problem := rules.check_prefix_length(changes["default_prefix_length"], net):
            raise invalid(problem, "default_prefix_length")
    ranges = _vlan_ranges(body.vlans) if body.vlans else []
    _no_other_pool_overlaps(ranges, pool.id)
    if ranges:
        allocator.release_expired(session, pool, backend().now(), audit_release)
    used: dict[str, list[int]] = {}
    for pop, first, last in ranges:
        used[pop] = list(session.scalars(select(Allocation.vlan).where(Allocation.pool_id == pool.id,
                                                                       Allocation.pop == pop)))
        outside = sorted(v for v in used[pop] if not first <= v <= last)
        if outside:
            shown = ", ".join(map(str, outside[:5])) + (" …" if len(outside) > 5 else "")
            raise conflict(f"pool {pool.name}: {_plural(len(outside), 'VLAN')} at {pop} in use or on hold would fall "
                           f"outside {first}-{last} ({shown}); keep them inside the range", pop=pop,
                           stranded=len(outside))

    before = _audited(serialize(pool))
    changed = False
    for field in ("description", "default_prefix_length"):
        if field in changes and getattr(pool, field) != changes[field]:
            setattr(pool, field, changes[field])
            changed = True
    current = {v.pop: (v.first, v.last) for v in pool_vlans(pool)}
    vlans_changed = False
    for pop, first, last in ranges:
        if current.get(pop) != (first, last):
            allocator.set_vlan_range(session, pool, pop, first, last, used[pop])
            vlans_changed = True
    if vlans_changed and not changed:
        etag.touch(pool)  # only its VLAN rows changed: the pool still gets a new version
    if changed or vlans_changed:
        session.flush()
        after = _audited(serialize(pool))
        audit.record("update", "govnet_pool", pool.name, before=before, after=after)
    return etag.respond(serialize(pool), pool.version)


@router.delete("/pools/{name}", response_model=PoolOut)
def delete_pool(name: str):
    """Remove a pool nothing draws from (admin): no prefix allocated or on hold, no request naming it."""
    principal().require("admin")
    session = db()
    pool = etag.guard(get_pool(name), f"pool {name}")
    lock(session, allocator.pool_lock(pool.id))
    allocator.release_expired(session, pool, backend().now(), audit_release)
    allocated = session.scalar(select(func.count()).select_from(Allocation).where(Allocation.pool_id == pool.id))
    if allocated:
        held = session.scalar(select(func.count()).select_from(Allocation).where(
            Allocation.pool_id == pool.id, Allocation.hold_until.is_not(None)))
        raise conflict(f"pool {pool.name} still has {_plural(allocated, 'prefix', 'prefixes')} allocated from it "
                       f"({allocated - held} in use, {held} on hold); offboard those sites and let their hold end first",
                       allocated=allocated)
    open_requests = session.scalar(select(func.count()).select_from(Onboarding).where(
        Onboarding.pool_id == pool.id, Onboarding.open == 1))
    if open_requests:
        raise conflict(f"{_plural(open_requests, 'open onboarding request')} draw from pool {pool.name}; "
                       f"offboard them first", requests=open_requests)
    past = session.scalar(select(func.count()).select_from(Onboarding).where(Onboarding.pool_id == pool.id))
    if past:
        raise conflict(f"pool {pool.name} is named by {_plural(past, 'past onboarding request')} of sites still on "
                       f"record; delete those sites first", requests=past)
    data = serialize(pool)
    for table in (FreeBlock, FreeVlans, PoolVlans):
        session.execute(delete(table).where(table.pool_id == pool.id))
    session.delete(pool)
    session.flush()
    audit.record("delete", "govnet_pool", data["name"], before=_audited(data))
    return data
