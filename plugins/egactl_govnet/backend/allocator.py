"""Taking and returning prefixes and VLANs, inside the caller's transaction.

The caller holds the pool's lock (``lock(session, pool_lock(pool))``: an
advisory lock on PostgreSQL; SQLite's write transaction is already exclusive),
so reading the free list and writing the allocation cannot interleave with
another provisioning of the same pool. The unique constraints on the
allocation (first address, PoP+VLAN) back that up.

The free list is the pool's free space as maximal aligned blocks (see
``egactl_govnet.addressing``): the next /L is one indexed query, whatever the
pool's size or how many allocations it has.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from egactl_govnet import addressing
from egactl_govnet.addressing import Block
from egactl_govnet.backend.models import Allocation, FreeBlock, Onboarding, Pool, PoolVlans


def pool_lock(pool_id: int) -> str:
    return f"govnet-pool:{pool_id}"


def init_free_space(session: Session, pool: Pool) -> None:
    session.execute(insert(FreeBlock).values(pool_id=pool.id, start=pool.start, length=pool.length))


def take_prefix(session: Session, pool: Pool, length: int) -> Block | None:
    """The lowest free aligned /length of the pool, removed from its free list."""
    row = session.execute(select(FreeBlock.id, FreeBlock.start, FreeBlock.length)
                          .where(FreeBlock.pool_id == pool.id, FreeBlock.length <= length)
                          .order_by(FreeBlock.start).limit(1)).first()
    if row is None:
        return None
    taken, rest = addressing.carve((row.start, row.length), length)
    session.execute(delete(FreeBlock).where(FreeBlock.id == row.id))
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


def take_vlan(session: Session, vlans: PoolVlans) -> int | None:
    """The lowest VLAN of the range not allocated at its PoP (holds included).

    Either the range's first VLAN, or the one after the lowest allocated VLAN
    whose successor is free: the database finds it on its (pop, vlan) index,
    so nothing is read into Python however many VLANs the PoP has in use.
    """
    taken = Allocation.__table__.alias("taken")
    used = select(Allocation.id).where(Allocation.pop == vlans.pop, Allocation.vlan == vlans.first).exists()
    if not session.scalar(select(used)):
        return vlans.first
    successor_free = ~select(taken.c.id).where(taken.c.pop == vlans.pop, taken.c.vlan == Allocation.vlan + 1).exists()
    gap = session.scalar(select(func.min(Allocation.vlan + 1)).where(
        Allocation.pop == vlans.pop, Allocation.vlan >= vlans.first, Allocation.vlan < vlans.last, successor_free))
    return gap


def vlans_used(session: Session, vlans: PoolVlans) -> int:
    return session.scalar(select(func.count()).select_from(Allocation).where(
        Allocation.pop == vlans.pop, Allocation.vlan.between(vlans.first, vlans.last))) or 0


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
