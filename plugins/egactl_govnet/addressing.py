"""Prefix arithmetic for GovNet pools, on plain integers.

A block is ``(start, length)``: an IPv4 prefix as the integer of its first
address and its prefix length, always aligned (``start`` is a multiple of the
block's size). Free space is kept as the *maximal* aligned blocks it contains,
the same list ``ipaddress.collapse_addresses`` would give; in that form

- the lowest free aligned /L is the start of the lowest free block of length
  ≤ L, so finding it never scans the allocations (``FreeList.allocate`` looks
  at one candidate per prefix length, at most 23 of them);
- taking a /L out of a larger free block leaves exactly one free block per
  length in between (its "buddies" on the way down, ``carve``);
- giving a block back merges it with its buddy for as long as the buddy is
  free (``FreeList.release``), which keeps the list maximal.

The backend stores the same list in a table and uses ``carve`` and ``buddy``
on it; this module has no I/O so the arithmetic can be tested on its own,
against ``ipaddress``.
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass
from typing import Iterable

Block = tuple[int, int]
BITS = 32


def size(length: int) -> int:
    return 1 << (BITS - length)


def is_aligned(start: int, length: int) -> bool:
    return 0 <= length <= BITS and start % size(length) == 0


def block(net: ipaddress.IPv4Network | str) -> Block:
    net = ipaddress.IPv4Network(net)
    return int(net.network_address), net.prefixlen


def network(b: Block) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network((b[0], b[1]))


def cidr(b: Block) -> str:
    return str(network(b))


def end(b: Block) -> int:
    """One past the block's last address."""
    return b[0] + size(b[1])


def contains(outer: Block, inner: Block) -> bool:
    return outer[0] <= inner[0] and end(inner) <= end(outer)


def overlaps(a: Block, b: Block) -> bool:
    return a[0] < end(b) and b[0] < end(a)


def buddy(b: Block) -> Block:
    """The other half of ``b``'s parent block."""
    return b[0] ^ size(b[1]), b[1]


def parent(b: Block) -> Block:
    return b[0] & ~(size(b[1] - 1) - 1), b[1] - 1


def carve(free: Block, length: int) -> tuple[Block, list[Block]]:
    """Take the lowest /length out of a free block: (the block taken, what stays free)."""
    start, have = free
    if length < have:
        raise ValueError(f"/{length} does not fit in {cidr(free)}")
    rest = [(start + size(l), l) for l in range(have + 1, length + 1)]
    return (start, length), rest


def decompose(first: int, stop: int) -> list[Block]:
    """The maximal aligned blocks covering addresses ``first`` … ``stop - 1``."""
    out: list[Block] = []
    while first < stop:
        length = BITS - ((first & -first).bit_length() - 1) if first else 0
        while first + size(length) > stop:
            length += 1
        out.append((first, length))
        first += size(length)
    return out


def free_blocks(pool: Block, allocated: Iterable[Block]) -> list[Block]:
    """The pool's free space as maximal blocks, in address order.

    Raises ValueError if an allocation lies outside the pool or two overlap:
    either would mean the stored state is corrupt.
    """
    out: list[Block] = []
    cursor = pool[0]
    for b in sorted(allocated):
        if not contains(pool, b):
            raise ValueError(f"{cidr(b)} is outside the pool {cidr(pool)}")
        if b[0] < cursor:
            raise ValueError(f"{cidr(b)} overlaps another allocation")
        out += decompose(cursor, b[0])
        cursor = end(b)
    out += decompose(cursor, end(pool))
    return out


def merge(blocks: Iterable[Block]) -> list[Block]:
    """Free blocks from several sources (e.g. the free list plus expired holds) as maximal blocks."""
    spans: list[list[int]] = []
    for b in sorted(blocks):
        if spans and b[0] <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end(b))
        else:
            spans.append([b[0], end(b)])
    return [blk for first, stop in spans for blk in decompose(first, stop)]


def first_fit(free: Iterable[Block], length: int) -> Block | None:
    """The lowest free aligned /length, given the free space as maximal blocks."""
    fits = [b for b in free if b[1] <= length]
    return (min(fits)[0], length) if fits else None


@dataclass(frozen=True)
class Usage:
    """How full a pool is. Addresses are counted, not blocks."""

    total: int
    used: int
    free: int
    largest_free: Block | None
    free_lengths: tuple[tuple[int, int], ...] = ()
    """(prefix length, how many free blocks of that length), shortest length first."""

    @property
    def free_blocks(self) -> int:
        return sum(n for _, n in self.free_lengths)

    @property
    def utilisation(self) -> float:
        """Share of the pool's addresses allocated (or held), 0.0–1.0."""
        return self.used / self.total if self.total else 0.0

    def capacity(self, length: int) -> int:
        """How many more /length blocks the pool can still give."""
        return sum(n * (size(have) // size(length)) for have, n in self.free_lengths if have <= length)

    def fragmentation(self, length: int) -> float:
        """Share of the free addresses that sit in blocks too small for a /length (0.0–1.0).

        Measured against the block a site usually gets, this is the free space
        that is there but cannot be handed out: 0.0 in a pool used in one
        block size, rising as mixed sizes leave small holes.
        """
        if not self.free:
            return 0.0
        stranded = sum(n * size(have) for have, n in self.free_lengths if have > length)
        return stranded / self.free

    def as_dict(self, length: int) -> dict:
        """The figures for a pool that hands out /length by default (the API's ``usage`` object)."""
        lf = self.largest_free
        return {"total_addresses": self.total, "used_addresses": self.used, "free_addresses": self.free,
                "utilisation": round(self.utilisation, 6), "free_blocks": self.free_blocks,
                "largest_free_block": cidr(lf) if lf else None, "largest_free_length": lf[1] if lf else None,
                "capacity_length": length, "capacity": self.capacity(length),
                "fragmentation": round(self.fragmentation(length), 6)}


def usage(pool: Block, free: Iterable[Block]) -> Usage:
    free = list(free)
    counts: dict[int, int] = {}
    for b in free:
        counts[b[1]] = counts.get(b[1], 0) + 1
    free_total = sum(size(length) * n for length, n in counts.items())
    largest = min(free, key=lambda b: (b[1], b[0])) if free else None
    total = size(pool[1])
    return Usage(total=total, used=total - free_total, free=free_total, largest_free=largest,
                 free_lengths=tuple(sorted(counts.items())))


class FreeList:
    """A pool's free space in memory, indexed by prefix length (a buddy allocator).

    ``allocate`` gives the lowest free aligned block; ``release`` gives a block
    back and merges buddies. Both cost O(prefix lengths × log blocks).
    """

    def __init__(self, pool: Block, free: Iterable[Block] | None = None):
        if not is_aligned(*pool):
            raise ValueError(f"{pool} is not an aligned block")
        self.pool = pool
        self._by_length: dict[int, list[int]] = {}
        for b in ([pool] if free is None else free):
            self._add(b)

    @classmethod
    def from_allocations(cls, pool: Block, allocated: Iterable[Block]) -> "FreeList":
        return cls(pool, free_blocks(pool, allocated))

    def _add(self, b: Block) -> None:
        bisect.insort(self._by_length.setdefault(b[1], []), b[0])

    def _remove(self, b: Block) -> bool:
        starts = self._by_length.get(b[1], [])
        i = bisect.bisect_left(starts, b[0])
        if i < len(starts) and starts[i] == b[0]:
            del starts[i]
            return True
        return False

    def lowest_fit(self, length: int) -> Block | None:
        """The free block the next /length would come from (without taking it)."""
        best: Block | None = None
        for have in range(self.pool[1], length + 1):
            starts = self._by_length.get(have)
            if starts and (best is None or starts[0] < best[0]):
                best = (starts[0], have)
        return best

    def allocate(self, length: int) -> Block | None:
        if not self.pool[1] <= length <= BITS:
            raise ValueError(f"/{length} does not fit in the pool {cidr(self.pool)}")
        source = self.lowest_fit(length)
        if source is None:
            return None
        self._remove(source)
        taken, rest = carve(source, length)
        for b in rest:
            self._add(b)
        return taken

    def release(self, b: Block) -> Block:
        """Give ``b`` back; returns the (possibly merged) free block it ended up in."""
        if not contains(self.pool, b) or not is_aligned(*b):
            raise ValueError(f"{cidr(b)} is not an aligned block of the pool {cidr(self.pool)}")
        while b[1] > self.pool[1] and self._remove(buddy(b)):
            b = parent(b)
        self._add(b)
        return b

    def blocks(self) -> list[Block]:
        return sorted((start, length) for length, starts in self._by_length.items() for start in starts)

    def usage(self) -> Usage:
        return usage(self.pool, self.blocks())
