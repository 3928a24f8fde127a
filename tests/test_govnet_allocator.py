"""The stored free list and VLAN search (egactl_govnet.backend.allocator) against the pure model."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from egactl_govnet import addressing
from egactl_govnet.addressing import FreeList
from egactl_govnet.backend import allocator
from egactl_govnet.backend.models import Allocation, FreeBlock, Onboarding, Pool, PoolVlans, Site

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)


def make_pool(session, cidr: str, vlans=("DODOMA", 10, 15)) -> Pool:
    start, length = addressing.block(cidr)
    pool = Pool(name="p", cidr=cidr, start=start, length=length, stop=start + addressing.size(length),
                default_prefix_length=30, created_at=NOW)
    session.add(pool)
    session.flush()
    session.add(PoolVlans(pool_id=pool.id, pop=vlans[0], first=vlans[1], last=vlans[2]))
    allocator.init_free_space(session, pool)
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


def test_vlan_search_finds_the_lowest_free(backend):
    with backend.write_sessions() as session:
        pool = make_pool(session, "10.71.0.0/24")
        vlans = session.scalar(select(PoolVlans))
        site = Site(institution="RITA", name="s", region="Dodoma", created_at=NOW, updated_at=NOW)
        session.add(site)
        session.flush()

        def allocate(vlan: int, n: int) -> None:
            ob = Onboarding(site_id=site.id, state="provisioned", state_since=NOW, pool_id=pool.id, pop="DODOMA",
                            prefix_length=30, bandwidth_bps=10**7, requested_by="t", requested_at=NOW)
            session.add(ob)
            session.flush()
            session.add(Allocation(pool_id=pool.id, onboarding_id=ob.id, start=pool.start + 4 * n, length=30,
                                   pop="DODOMA", vlan=vlan))
            session.flush()

        assert allocator.take_vlan(session, vlans) == 10
        for n, vlan in enumerate((10, 11, 13)):
            allocate(vlan, n)
        assert allocator.take_vlan(session, vlans) == 12
        allocate(12, 3)
        assert allocator.take_vlan(session, vlans) == 14
        allocate(14, 4)
        allocate(15, 5)
        assert allocator.take_vlan(session, vlans) is None
        session.rollback()
