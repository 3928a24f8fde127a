"""The stored free list and VLAN search (egactl_govnet.server.allocator) against the pure model."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from egactl_govnet import addressing
from egactl_govnet.addressing import FreeList
from egactl_govnet.server import allocator
from egactl_govnet.server.models import FreeBlock, FreeVlans, Pool, PoolVlans

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)


def make_pool(session, cidr: str, vlans=("DODOMA", 10, 15)) -> Pool:
    start, length = addressing.block(cidr)
    pool = Pool(name="p", cidr=cidr, start=start, length=length, stop=start + addressing.size(length),
                default_prefix_length=30, created_at=NOW)
    session.add(pool)
    session.flush()
    ranges = [PoolVlans(pool_id=pool.id, pop=vlans[0], first=vlans[1], last=vlans[2])]
    session.add_all(ranges)
    session.flush()
    allocator.init_free_space(session, pool, ranges)
    return pool


def stored_free(session, pool) -> list:
    return sorted((b.start, b.length) for b in session.scalars(select(FreeBlock).where(FreeBlock.pool_id == pool.id)))


def test_stored_free_list_follows_the_model(backend):
    rng = random.Random(20261122)
    with backend.write_sessions() as session:
        pool = make_pool(session, "10.70.0.0/22")
        model = FreeList((pool.start, pool.length))
        held = []
        for _ in range(300):
            if held and rng.random() < 0.35:
                block = held.pop(rng.randrange(len(held)))
                assert allocator.give_back(session, pool, block) == model.release(block)
            else:
                length = rng.choice([30, 30, 30, 29, 28, 26])
                got = allocator.take_prefix(session, pool, length)
                assert got == model.allocate(length)
                if got:
                    held.append(got)
            assert stored_free(session, pool) == model.blocks()
        assert addressing.free_blocks((pool.start, pool.length), held) == stored_free(session, pool)
        session.rollback()


def stored_vlan_runs(session, pool) -> list[tuple[int, int]]:
    return sorted((r.first, r.last) for r in session.scalars(select(FreeVlans).where(FreeVlans.pool_id == pool.id)))


def runs_of(free: set[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for v in sorted(free):
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return [tuple(r) for r in out]


def test_vlan_runs_give_the_lowest_free_and_join_when_given_back(backend):
    rng = random.Random(4094)
    with backend.write_sessions() as session:
        pool = make_pool(session, "10.71.0.0/24", vlans=("DODOMA", 100, 140))
        free = set(range(100, 141))
        held: list[int] = []
        for _ in range(250):
            if held and rng.random() < 0.4:
                vlan = held.pop(rng.randrange(len(held)))
                allocator.give_back_vlan(session, pool, "DODOMA", vlan)
                free.add(vlan)
            else:
                got = allocator.take_vlan(session, pool, "DODOMA")
                assert got == (min(free) if free else None)
                if got is not None:
                    free.discard(got)
                    held.append(got)
            assert stored_vlan_runs(session, pool) == runs_of(free)
        assert allocator.take_vlan(session, pool, "ARUSHA") is None
        session.rollback()
