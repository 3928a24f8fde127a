"""/api/v1/govnet/pools: address pools, their VLAN ranges per PoP, and how full they are."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.rules import RuleError
from egactl.plugin.server import ApiRoute, audit, backend, conflict, db, invalid, iso, lock, page, principal
from egactl_govnet import addressing, rules
from egactl_govnet.server import allocator
from egactl_govnet.server.models import Pool, PoolVlans
from egactl_govnet.server.schemas import PoolDetail, PoolIn, PoolOut, PoolPage
from egactl_govnet.server.service import get_pool, pool_vlans

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
    return serialize(get_pool(name), with_free_blocks=True)


@router.post("/pools", status_code=201, response_model=PoolOut)
def create_pool(body: PoolIn):
    principal().require("admin")
    name, net, region = body.name, ipaddress.IPv4Network(body.cidr), body.region
    default = body.default_prefix_length or max(29, net.prefixlen)
    if problem := rules.check_prefix_length(default, net):
        raise invalid(problem, "default_prefix_length")
    try:
        ranges = [rules.parse_vlan_range(f"{v.pop}={v.first}-{v.last}") for v in body.vlans]
    except RuleError as exc:
        raise invalid(str(exc), "vlans") from None
    if problem := rules.check_vlan_ranges(ranges):
        raise invalid(problem, "vlans")

    session = db()
    lock(session, POOLS_LOCK)
    if session.scalar(select(Pool.id).where(Pool.name == name)) is not None:
        raise conflict(f"a pool named {name} already exists")
    start, stop = int(net.network_address), int(net.broadcast_address) + 1
    clash = session.scalar(select(Pool).where(Pool.start < stop, Pool.stop > start).limit(1))
    if clash is not None:
        raise invalid(f"{net} overlaps pool {clash.name} ({clash.cidr})", "cidr")
    for pop, first, last in ranges:
        other = session.execute(select(PoolVlans, Pool.name).join(Pool, Pool.id == PoolVlans.pool_id).where(
            PoolVlans.pop == pop, PoolVlans.first <= last, PoolVlans.last >= first).limit(1)).first()
        if other is not None:
            v, pool_name = other
            raise invalid(f"VLANs {first}-{last} at {pop} overlap pool {pool_name}'s range {v.first}-{v.last}", "vlans")

    pool = allocator.new_pool(session, name=name, net=net, default_prefix_length=default, region=region,
                              description=body.description, vlans=ranges, now=backend().now())
    data = serialize(pool)
    audit.record("create", "govnet_pool", pool.name, after={k: data[k] for k in ("name", "cidr", "default_prefix_length",
                                                                              "region", "vlans")})
    return data
