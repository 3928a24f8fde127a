"""Prefix arithmetic, checked against Python's ipaddress (property-based) and on known boundaries."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egactl_govnet import addressing
from egactl_govnet.addressing import FreeList

IP = ipaddress.IPv4Network


def net(b):
    return addressing.network(b)


def brute_first_free(pool: IP, allocated: list[IP], length: int) -> IP | None:
    """The lowest aligned /length of the pool that overlaps no allocation, by trying each in turn."""
    for candidate in pool.subnets(new_prefix=length):
        if not any(candidate.overlaps(a) for a in allocated):
            return candidate
    return None


def brute_free(pool: IP, allocated: list[IP]) -> list[IP]:
    """The pool minus the allocations, as ipaddress would collapse it."""
    pieces = [pool]
    for a in allocated:
        nxt = []
        for p in pieces:
            if p.overlaps(a):
                nxt.extend(p.address_exclude(a) if p != a else [])
            else:
                nxt.append(p)
        pieces = nxt
    return sorted(ipaddress.collapse_addresses(pieces))


@st.composite
def pools(draw):
    length = draw(st.integers(min_value=22, max_value=29))
    index = draw(st.integers(min_value=0, max_value=(1 << length) - 1))
    return (index << (32 - length), length)


@st.composite
def scenarios(draw):
    """A pool and a sequence of operations: ("alloc", length) or ("free", which allocation)."""
    pool = draw(pools())
    ops = draw(st.lists(st.one_of(
        st.tuples(st.just("alloc"), st.integers(min_value=pool[1], max_value=30)),
        st.tuples(st.just("free"), st.integers(min_value=0, max_value=1000)),
    ), max_size=40))
    return pool, ops


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_free_list_agrees_with_ipaddress(scenario):
    pool_block, ops = scenario
    pool = net(pool_block)
    fl = FreeList(pool_block)
    allocated: list[IP] = []
    for op, arg in ops:
        if op == "alloc":
            expected = brute_first_free(pool, allocated, arg)
            got = fl.allocate(arg)
            assert (net(got) if got else None) == expected
            if got:
                assert net(got).subnet_of(pool) and net(got).prefixlen == arg
                allocated.append(net(got))
        elif allocated:
            gone = allocated.pop(arg % len(allocated))
            fl.release(addressing.block(gone))
        # The free list is exactly the pool minus the allocations, as maximal blocks.
        assert [net(b) for b in fl.blocks()] == brute_free(pool, allocated)
        for i, a in enumerate(allocated):
            assert not any(a.overlaps(b) for b in allocated[i + 1:])
    # And the same free space is what free_blocks() derives from the allocations alone.
    assert addressing.free_blocks(pool_block, [addressing.block(a) for a in allocated]) == fl.blocks()
    use = fl.usage()
    used = sum(a.num_addresses for a in allocated)
    assert use.used == used and use.free == pool.num_addresses - used
    assert use.utilisation == pytest.approx(used / pool.num_addresses)
    free = brute_free(pool, allocated)
    if free:
        biggest = max(f.num_addresses for f in free)
        assert net(use.largest_free).num_addresses == biggest
        assert net(use.largest_free) == min(f for f in free if f.num_addresses == biggest)
    else:
        assert use.largest_free is None and use.fragmentation(30) == 0.0
    for length in sorted({pool.prefixlen, (pool.prefixlen + 30) // 2, 30}):
        # Capacity: how many /length still fit, counted by trying every aligned /length.
        fits = sum(1 for c in pool.subnets(new_prefix=length) if not any(c.overlaps(a) for a in allocated))
        assert use.capacity(length) == fits
        stranded = sum(f.num_addresses for f in free if f.prefixlen > length)
        assert use.fragmentation(length) == pytest.approx(stranded / use.free if use.free else 0.0)


@given(st.integers(min_value=0, max_value=(1 << 32) - 1), st.integers(min_value=0, max_value=(1 << 32)))
def test_decompose_matches_summarize(first, stop):
    if stop <= first:
        assert addressing.decompose(first, stop) == []
        return
    expected = list(ipaddress.summarize_address_range(ipaddress.IPv4Address(first), ipaddress.IPv4Address(stop - 1)))
    assert [net(b) for b in addressing.decompose(first, stop)] == expected


@given(st.lists(pools(), max_size=12))
def test_merge_matches_collapse(blocks):
    expected = list(ipaddress.collapse_addresses(net(b) for b in blocks))
    assert [net(b) for b in addressing.merge(blocks)] == sorted(expected)


@given(pools(), st.integers(min_value=0, max_value=8))
def test_carve_leaves_exactly_the_rest(free, extra):
    length = min(32, free[1] + extra)
    taken, rest = addressing.carve(free, length)
    assert net(taken) == next(net(free).subnets(new_prefix=length))
    assert sorted(net(b) for b in rest) == sorted(net(free).address_exclude(net(taken))) if rest else taken == free


def test_mixed_lengths_fill_the_holes_on_their_boundaries():
    fl = FreeList(addressing.block("10.20.0.0/24"))
    assert net(fl.allocate(30)) == IP("10.20.0.0/30")
    assert net(fl.allocate(29)) == IP("10.20.0.8/29")   # 10.20.0.4/29 would not be aligned
    assert net(fl.allocate(30)) == IP("10.20.0.4/30")   # the hole left behind
    assert net(fl.allocate(28)) == IP("10.20.0.16/28")
    assert net(fl.allocate(25)) == IP("10.20.0.128/25")
    use = fl.usage()
    assert use.used == 4 + 8 + 4 + 16 + 128
    assert net(use.largest_free) == IP("10.20.0.64/26")
    assert use.capacity(29) == 12 and use.capacity(26) == 1
    fl.release(addressing.block("10.20.0.0/30"))
    fl.release(addressing.block("10.20.0.4/30"))  # merges into 10.20.0.0/29
    assert IP("10.20.0.0/29") in [net(b) for b in fl.blocks()]


def test_a_pool_fills_exactly_and_then_says_so():
    fl = FreeList(addressing.block("192.168.0.0/28"))
    got = [fl.allocate(30) for _ in range(4)]
    assert [str(net(b)) for b in got] == ["192.168.0.0/30", "192.168.0.4/30", "192.168.0.8/30", "192.168.0.12/30"]
    assert fl.allocate(30) is None and fl.allocate(29) is None
    assert fl.usage().utilisation == 1.0 and fl.usage().largest_free is None


def test_top_of_the_address_space():
    fl = FreeList(addressing.block("255.255.255.0/24"))
    assert net(fl.allocate(25)) == IP("255.255.255.0/25")
    assert net(fl.allocate(25)) == IP("255.255.255.128/25")
    assert fl.allocate(30) is None
    fl.release(addressing.block("255.255.255.128/25"))
    assert [net(b) for b in fl.blocks()] == [IP("255.255.255.128/25")]


def test_fragmentation_counts_what_a_default_site_cannot_use():
    fl = FreeList(addressing.block("10.0.0.0/24"))
    blocks = [fl.allocate(30) for _ in range(64)]        # the whole /24 in /30s
    for b in blocks[::2]:
        fl.release(b)                                    # every other one back: 32 scattered /30s
    use = fl.usage()
    assert use.free == 128 and use.capacity(30) == 32
    assert use.capacity(29) == 0 and use.fragmentation(29) == 1.0
    assert use.fragmentation(30) == 0.0


def test_inconsistent_allocations_are_refused():
    pool = addressing.block("10.0.0.0/24")
    with pytest.raises(ValueError, match="outside"):
        addressing.free_blocks(pool, [addressing.block("10.0.1.0/30")])
    with pytest.raises(ValueError, match="overlaps"):
        addressing.free_blocks(pool, [addressing.block("10.0.0.0/29"), addressing.block("10.0.0.4/30")])
    with pytest.raises(ValueError):
        FreeList(pool).allocate(23)
