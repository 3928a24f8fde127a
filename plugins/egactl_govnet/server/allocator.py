"""Taking and returning prefixes and VLANs, inside the caller's transaction.

The caller holds the pool's lock (``lock(session, pool_lock(pool))``: an
advisory lock on PostgreSQL; SQLite's write transaction is already exclusive),
so reading the free list and writing the allocation cannot interleave with
another provisioning of the same pool. The unique constraints on the
allocation (first address, PoP+VLAN) back that up.

The free list is the pool's free space as maximal aligned blocks (see
``egactl_govnet.addressing``), and each PoP's free VLANs are kept as runs
(first … last) the same way: the next /L and the next VLAN are each one
indexed query, whatever the pool's size or how many allocations it has.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Callable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from egactl_govnet import addressing
from egactl_govnet.addressing import Block
from egactl_govnet.server.models import Allocation, FreeBlock, FreeVlans, Onboarding, Pool, PoolVlans


def pool_lock(pool_id: int) -> str:
    return f"govnet-pool:{pool_id}"


def init_free_space(session: Session, pool: Pool, vlans: list[PoolVlans]) -> None:
    """A new pool: all its addresses and all its VLANs free."""
    session.execute(insert(FreeBlock).values(pool_id=pool.id, start=pool.start, length=pool.length))
    for v in vlans:
        session.execute(insert(FreeVlans).values(pool_id=pool.id, pop=v.pop, first=v.first, last=v.last))


def new_pool(session: Session, *, name: str, net: ipaddress.IPv4Network, default_prefix_length: int,
             region: str | None, description: str | None, vlans: list[tuple[str, int, int]], now: dt.datetime) -> Pool:
    """Add a pool with its VLAN ranges (``(pop, first, last)``), all its addresses and VLANs free."""
    pool = Pool(name=name, cidr=str(net), start=int(net.network_address), length=net.prefixlen,
                stop=int(net.broadcast_address) + 1, default_prefix_length=default_prefix_length, region=region,
                description=description, version=1, created_at=now)
    session.add(pool)
    session.flush()
    ranges = [PoolVlans(pool_id=pool.id, pop=pop, first=first, last=last) for pop, first, last in vlans]
    session.add_all(ranges)
    session.flush()
    init_free_space(session, pool, ranges)
    return pool


def set_vlan_range(session: Session, pool: Pool, pop: str, first: int, last: int, used: list[int]) -> None:
    """Give the pool's PoP the VLANs ``first``..``last`` (a new PoP, or a changed range).

    ``used`` are the PoP's VLANs in use or on hold, all inside the new range (the
    caller checked): the PoP's free runs are rebuilt as the range without them.
    """
    row = session.scalar(select(PoolVlans).where(PoolVlans.pool_id == pool.id, PoolVlans.pop == pop))
    if row is None:
        session.add(PoolVlans(pool_id=pool.id, pop=pop, first=first, last=last))
    else:
        row.first, row.last = first, last
    session.execute(delete(FreeVlans).where(FreeVlans.pool_id == pool.id, FreeVlans.pop == pop))
    runs, start = [], first
    for vlan in sorted(set(used)):
        if vlan > start:
            runs.append((start, vlan - 1))
        start = vlan + 1
    if start <= last:
        runs.append((start, last))
    if runs:
        session.execute(insert(FreeVlans), [{"pool_id": pool.id, "pop": pop, "first": f, "last": l} for f, l in runs])
    session.flush()


def take_prefix(session: Session, pool: Pool, length: int) -> Block | None:
    """The lowest free aligned /length of the pool, removed from its free list.

    It starts the lowest free block at least that big: the first row of the
    (pool, start) index whose length fits, so the cost does not grow with the
    number of allocations.
    """
    row = session.execute(select(FreeBlock.start, FreeBlock.length)
                          .where(FreeBlock.pool_id == pool.id, FreeBlock.length <= length)
                          .order_by(FreeBlock.start).limit(1)).first()
    if row is None:
        return None
    taken, rest = addressing.carve((row.start, row.length), length)
    session.execute(delete(FreeBlock).where(FreeBlock.pool_id == pool.id, FreeBlock.start == row.start))
    if rest:
        session.execute(insert(FreeBlock), [{"pool_id": pool.id, "start": s, "length": l} for s, l in rest])
    return taken


def give_back(session: Session, pool: Pool, block: Block) -> Block:
    """Return a block to the free list, merging it with its free buddies."""
    while block[1] > pool.length:
        mate = addressing.buddy(block)
        gone = session.execute(delete(FreeBlock).where(FreeBlock.pool_id == pool.id, FreeBlock.start == mate[0],
                                                       FreeBlock.length == mate[1])).rowcount
        if not gone:
            break
        block = addressing.parent(block)
    session.execute(insert(FreeBlock).values(pool_id=pool.id, start=block[0], length=block[1]))
    return block


def largest_free_length(session: Session, pool: Pool) -> int | None:
    return session.scalar(select(func.min(FreeBlock.length)).where(FreeBlock.pool_id == pool.id))


def take_vlan(session: Session, pool: Pool, pop: str) -> int | None:
    """The lowest free VLAN of the pool at ``pop``: the first of its lowest free run."""
    run = session.execute(select(FreeVlans.id, FreeVlans.first, FreeVlans.last)
                          .where(FreeVlans.pool_id == pool.id, FreeVlans.pop == pop)
                          .order_by(FreeVlans.first).limit(1)).first()
    if run is None:
        return None
    if run.first == run.last:
        session.execute(delete(FreeVlans).where(FreeVlans.id == run.id))
    else:
        session.execute(update(FreeVlans).where(FreeVlans.id == run.id).values(first=run.first + 1))
    return run.first


def give_back_vlan(session: Session, pool: Pool, pop: str, vlan: int) -> None:
    """Return a VLAN to its free runs, joining the runs on either side."""
    def run(**where):
        return session.execute(select(FreeVlans.id, FreeVlans.first, FreeVlans.last).where(
            FreeVlans.pool_id == pool.id, FreeVlans.pop == pop,
            *(getattr(FreeVlans, k) == v for k, v in where.items()))).first()

    below, above = run(last=vlan - 1), run(first=vlan + 1)
    if below and above:
        session.execute(delete(FreeVlans).where(FreeVlans.id == above.id))
        session.execute(update(FreeVlans).where(FreeVlans.id == below.id).values(last=above.last))
    elif below:
        session.execute(update(FreeVlans).where(FreeVlans.id == below.id).values(last=vlan))
    elif above:
        session.execute(update(FreeVlans).where(FreeVlans.id == above.id).values(first=vlan))
    else:
        session.execute(insert(FreeVlans).values(pool_id=pool.id, pop=pop, first=vlan, last=vlan))


def vlans_used(session: Session, vlans: PoolVlans, now: dt.datetime) -> int:
    """VLANs of the range in use or on hold (a hold that has ended counts as free)."""
    in_use = (Allocation.hold_until.is_(None)) | (Allocation.hold_until > now)
    return session.scalar(select(func.count()).select_from(Allocation).where(
        Allocation.pop == vlans.pop, Allocation.vlan.between(vlans.first, vlans.last), in_use)) or 0


def release_expired(session: Session, pool: Pool, now: dt.datetime,
                    on_release: Callable[[Allocation], None] | None = None) -> int:
    """Return to the pool every allocation of it whose hold has ended."""
    expired = session.scalars(select(Allocation).where(Allocation.pool_id == pool.id,
                                                       Allocation.hold_until.is_not(None),
                                                       Allocation.hold_until <= now)
                              .order_by(Allocation.start)).all()
    for alloc in expired:
        session.execute(delete(Allocation).where(Allocation.id == alloc.id))
        give_back(session, pool, (alloc.start, alloc.length))
        give_back_vlan(session, pool, alloc.pop, alloc.vlan)
        session.execute(update(Onboarding).where(Onboarding.id == alloc.onboarding_id)
                        .values(released_at=alloc.hold_until))
        if on_release is not None:
            on_release(alloc)
    return len(expired)


def free_space(session: Session, pool: Pool, now: dt.datetime) -> list[Block]:
    """The pool's free space as it stands now: the free list plus holds that have ended."""
    free = [(r.start, r.length) for r in session.execute(
        select(FreeBlock.start, FreeBlock.length).where(FreeBlock.pool_id == pool.id))]
    ended = [(r.start, r.length) for r in session.execute(
        select(Allocation.start, Allocation.length).where(Allocation.pool_id == pool.id,
                                                          Allocation.hold_until.is_not(None),
                                                          Allocation.hold_until <= now))]
    return addressing.merge(free + ended) if ended else sorted(free)
