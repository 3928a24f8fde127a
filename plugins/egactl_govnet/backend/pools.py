"""/api/v1/govnet/pools: address pools, their VLAN ranges per PoP, and how full they are."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from egactl.plugin.server import ApiRoute, Problem, audit, backend, db, lock, page, principal
from egactl_govnet import addressing, validation
from egactl_govnet.backend import allocator
from egactl_govnet.backend.models import Pool, PoolVlans
from egactl_govnet.backend.records import checked, get_pool, pool_vlans
from egactl_govnet.backend.schemas import PoolDetail, PoolOut, PoolPage

router = APIRouter(route_class=ApiRoute, tags=["govnet"])

POOLS_LOCK = "govnet-pools"


class VlanRangeIn(BaseModel):
    pop: str
    first: int
    last: int


class PoolIn(BaseModel):
    name: str
    cidr: str
    default_prefix_length: int | None = Field(default=None, description="Handed to a site unless its request says otherwise (default /29, or the pool's own length if smaller)")
    region: str | None = None
    description: str | None = Field(default=None, max_length=200)
    vlans: list[VlanRangeIn] = Field(min_length=1, description="At least one VLAN range, one per PoP")


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
            "version": pool.version, "created_at": pool.created_at.isoformat()}
    if with_free_blocks:
        data["free_blocks"] = [addressing.cidr(b) for b in free]
    return data


@router.get("/pools", response_model=PoolPage)
def list_pools(cursor: str | None = None, limit: int | None = None, region: str | None = None):
    stmt = select(Pool)
    if region:
        stmt = stmt.where(Pool.region == checked("region", validation.normalise_region, region))
    return page(db(), stmt, Pool.id, cursor=cursor, limit=limit, serialize=serialize)


@router.get("/pools/{name}", response_model=PoolDetail)
def show_pool(name: str):
    return serialize(get_pool(name), with_free_blocks=True)


@router.post("/pools", status_code=201, response_model=PoolOut)
def create_pool(body: PoolIn):
    principal().require("admin")
    name = checked("name", validation.check_pool_name, body.name)
    net = checked("cidr", validation.parse_pool_cidr, body.cidr)
    default = body.default_prefix_length or max(29, net.prefixlen)
    checked("default_prefix_length", validation.check_prefix_length, default, net)
    region = checked("region", validation.normalise_region, body.region) if body.region else None
    description = checked("description", validation.check_config_text, body.description, "description") or None if body.description else None
    ranges = [checked("vlans", validation.parse_vlan_range, f"{v.pop}={v.first}-{v.last}") for v in body.vlans]
    checked("vlans", validation.check_vlan_ranges, ranges)

    session = db()
    lock(session, POOLS_LOCK)
    if session.scalar(select(Pool.id).where(Pool.name == name)) is not None:
        raise Problem(409, f"a pool named {name} already exists")
    start, stop = int(net.network_address), int(net.broadcast_address) + 1
    clash = session.scalar(select(Pool).where(Pool.start < stop, Pool.stop > start).limit(1))
    if clash is not None:
        raise Problem(422, f"{net} overlaps pool {clash.name} ({clash.cidr})", errors=[{"field": "cidr", "message": "overlaps"}])
    for pop, first, last in ranges:
        other = session.execute(select(PoolVlans, Pool.name).join(Pool, Pool.id == PoolVlans.pool_id).where(
            PoolVlans.pop == pop, PoolVlans.first <= last, PoolVlans.last >= first).limit(1)).first()
        if other is not None:
            v, pool_name = other
            raise Problem(422, f"VLANs {first}-{last} at {pop} overlap pool {pool_name}'s range {v.first}-{v.last}",
                          errors=[{"field": "vlans", "message": "overlaps"}])

    pool = Pool(name=name, cidr=str(net), start=start, length=net.prefixlen, stop=stop, default_prefix_length=default,
                region=region, description=description, version=1, created_at=backend().now())
    session.add(pool)
    session.flush()
    vlans = [PoolVlans(pool_id=pool.id, pop=pop, first=first, last=last) for pop, first, last in ranges]
    session.add_all(vlans)
    session.flush()
    allocator.init_free_space(session, pool, vlans)
    data = serialize(pool)
    audit.record("create", "govnet_pool", pool.name, after={k: data[k] for k in ("name", "cidr", "default_prefix_length",
                                                                              "region", "vlans")})
    return data
