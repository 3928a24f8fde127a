"""GovNet allocation throughput: provisions per second against ``egactl serve``.

Two pools of 65,536 /30s each (two /14s) on one server:

- ``empty``: nothing allocated. One client provisions here: the baseline
  (in rounds alternating with one client on ``full``, so that load from
  elsewhere on a shared machine falls on both alike).
- ``full``: every /30 taken except a few thousand holes scattered at random
  through the pool (about 96 % used, the free list thousands of blocks long),
  and the PoPs' VLANs mostly used too. Here 1, 8 and 32 concurrent clients
  provision in turn.

Each client is a thread with its own HTTP connection, using egactl's own API
client and the same call as ``egactl govnet provision``. Each provision is one
transaction under the pool's lock: the next free /30 and the next free VLAN,
the circuit recorded, the audit entry written. Printed: provisions per second,
as a ratio to the baseline measured in the same run, and the latency
percentiles a client saw.

What to look for: the single client on the full pool should be about as fast
as on the empty one (the next prefix is one indexed query on the free list,
the next VLAN one on the VLAN index, whatever is allocated already); more
clients should not make allocation slower (it is serialised per pool, which
is what makes it race-free, but the rest of each request runs in parallel).

The pools, sites and approved requests are written straight into the database
before the server starts (a quarter of a million rows through the API would
take longer than the measurement); everything measured goes through
``egactl serve``. Afterwards the run checks what it measured: every prefix
distinct and inside its pool, and each stored free list exactly its pool
minus its allocations.

Usage: ``python bench/govnet_alloc.py [--per-level 600] [--database-url URL]``
(default: a fresh SQLite file in a temporary directory; a PostgreSQL URL must
name an empty database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

EMPTY = ipaddress.IPv4Network("10.64.0.0/14")
FULL = ipaddress.IPv4Network("10.68.0.0/14")
LEVELS = (1, 8, 32)
ROUNDS = 6
SLASH30 = EMPTY.num_addresses // 4
VLANS_PER_POP = 4094


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(database_url: str, per_level: int, seed: int = 7) -> dict[str, list[int]]:
    """Write both pools, their prefilled allocations and the approved requests to measure.

    Returns the request ids to provision: {"empty": [...], "full": [...]}.
    """
    from sqlalchemy import insert, select

    from egactl.server.app import create_app
    from egactl.server.models import Institution
    from egactl_govnet import addressing, rules
    from egactl_govnet.server import allocator
    from egactl_govnet.server.models import Allocation, FreeBlock, FreeVlans, Onboarding, Pool, PoolVlans, Site

    now = dt.datetime.now(dt.timezone.utc)
    be = create_app(database_url, plugins=["govnet"]).state.backend
    pops = list(rules.POPS)
    measured = per_level * len(LEVELS)
    rng = random.Random(seed)
    holes = set(rng.sample(range(SLASH30), measured + measured // 2))
    prefilled = [i for i in range(SLASH30) if i not in holes]
    n_full = -(-(len(prefilled) + measured) // VLANS_PER_POP)   # enough PoPs' VLANs for every /30 taken
    full_pops, empty_pops = pops[:n_full], pops[n_full:n_full + 4]
    if not empty_pops:
        raise SystemExit(f"--per-level {per_level}: not enough PoPs for the VLANs")

    with be.write_sessions() as s:
        s.add(Institution(code="BENCH", name="Bench agency", kind="agency", version=1, created_at=now, updated_at=now))
        pools = {}
        for name, net, its_pops in (("empty", EMPTY, empty_pops), ("full", FULL, full_pops)):
            start, length = addressing.block(net)
            pool = Pool(name=name, cidr=str(net), start=start, length=length, stop=start + net.num_addresses,
                        default_prefix_length=30, region="Dodoma", version=1, created_at=now)
            s.add(pool)
            s.flush()
            for pop in its_pops:
                s.add(PoolVlans(pool_id=pool.id, pop=pop, first=1, last=VLANS_PER_POP))
            pools[name] = pool
            s.flush()
        s.flush()

        def requests(prefix: str, count: int, pool: Pool, pop_of, state: str) -> list[int]:
            """Sites with one open request each; returns the requests' ids."""
            base = s.execute(insert(Site).returning(Site.id), [
                {"institution": "BENCH", "name": f"{prefix}{i}", "region": "Dodoma", "version": 1,
                 "created_at": now, "updated_at": now} for i in range(count)]).scalars().all()
            ids = s.execute(insert(Onboarding).returning(Onboarding.id), [
                {"site_id": site_id, "open": 1, "state": state, "state_since": now, "pool_id": pool.id,
                 "pop": pop_of(i), "prefix_length": 30, "bandwidth_bps": 10_000_000, "requested_by": "bench",
                 "requested_at": now, "approved_at": now, "version": 2} for i, site_id in enumerate(base)]).scalars().all()
            return ids

        full = pools["full"]
        taken = requests("f", len(prefilled), full, lambda i: full_pops[i // VLANS_PER_POP], "active")
        s.execute(insert(Allocation), [
            {"pool_id": full.id, "onboarding_id": ob_id, "start": full.start + 4 * n, "length": 30,
             "pop": full_pops[i // VLANS_PER_POP], "vlan": i % VLANS_PER_POP + 1}
            for i, (ob_id, n) in enumerate(zip(taken, prefilled))])
        used_vlans = len(prefilled)
        s.execute(insert(FreeVlans), [
            {"pool_id": full.id, "pop": pop, "first": max(1, used_vlans - i * VLANS_PER_POP + 1), "last": VLANS_PER_POP}
            for i, pop in enumerate(full_pops) if used_vlans < (i + 1) * VLANS_PER_POP])
        s.execute(insert(FreeBlock), [
            {"pool_id": full.id, "start": start, "length": length}
            for start, length in addressing.free_blocks((full.start, full.length),
                                                        [(full.start + 4 * n, 30) for n in prefilled])])
        # The measured requests on the full pool go to its PoPs with VLANs left, the fullest first.
        left_pops = full_pops[len(prefilled) // VLANS_PER_POP:]
        full_ids = requests("m", measured, full, lambda i: left_pops[i % len(left_pops)], "approved")
        empty = pools["empty"]
        empty_ids = requests("e", per_level, empty, lambda i: empty_pops[i % len(empty_pops)], "approved")
        allocator.init_free_space(s, empty, list(s.scalars(select(PoolVlans).where(PoolVlans.pool_id == empty.id))))
        s.commit()
    be.engine.dispose()
    return {"empty": list(empty_ids), "full": list(full_ids)}


def start(database_url: str, home: Path) -> tuple[subprocess.Popen, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update({"EGACTL_CONFIG_DIR": str(home / "config"), "EGACTL_DATA_DIR": str(home / "data"),
                "EGACTL_CREDENTIAL_STORE": "file"})
    made = subprocess.run([sys.executable, "-m", "egactl", "serve", "tokens", "create", "--role", "admin", "--subject",
                           "bench", "--database-url", database_url, "-o", "json"], env=env, capture_output=True,
                          text=True, check=True)
    token = json.loads(made.stdout)["token"]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "egactl", "serve", "--port", str(port), "--database-url",
                             database_url, "--no-workers"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}", token
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def provision_level(url: str, token: str, ids: list[int], clients: int) -> dict:
    from egactl.api_client import ApiClient
    from egactl_govnet.client import step

    chunks = [ids[i::clients] for i in range(clients)]
    seconds: list[float] = []
    prefixes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def run(mine: list[int]) -> None:
        api = ApiClient(url, token=token, retries=8, read_timeout=120)
        barrier.wait()
        for i in mine:
            t0 = time.perf_counter()
            ob = step(api, {"id": i}, None, "provision", {"provider": "BENCH", "circuit_id": f"B{i}"})
            with lock:
                seconds.append(time.perf_counter() - t0)
                prefixes.append(ob["prefix"])
        api.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    seconds.sort()
    return {"clients": clients, "rate": len(ids) / elapsed, "p50": statistics.median(seconds) * 1000,
            "p95": seconds[max(0, int(len(seconds) * 0.95) - 1)] * 1000, "prefixes": prefixes,
            "seconds": seconds, "elapsed": elapsed}


def combine(parts: list[dict]) -> dict:
    """Rounds of one level as one: total provisions over total time."""
    n = sum(len(p["prefixes"]) for p in parts)
    seconds = sorted(s for p in parts for s in p["seconds"])
    return {"clients": parts[0]["clients"], "rate": n / sum(p["elapsed"] for p in parts),
            "p50": statistics.median(seconds) * 1000, "p95": seconds[max(0, int(len(seconds) * 0.95) - 1)] * 1000,
            "prefixes": [x for p in parts for x in p["prefixes"]], "seconds": seconds,
            "elapsed": sum(p["elapsed"] for p in parts)}


def check(database_url: str, measured: dict[str, list[str]]) -> str:
    from sqlalchemy import select

    from egactl.server.db import make_engine
    from egactl_govnet import addressing
    from egactl_govnet.server.models import Allocation, FreeBlock, FreeVlans, Pool, PoolVlans

    engine = make_engine(database_url)
    lines = []
    with engine.connect() as conn:
        for name, net in (("empty", EMPTY), ("full", FULL)):
            nets = sorted(ipaddress.IPv4Network(p) for p in measured[name])
            assert len(set(nets)) == len(nets), f"{name}: a prefix was handed out twice"
            assert all(n.subnet_of(net) for n in nets), f"{name}: a prefix outside the pool"
            pool_id = conn.execute(select(Pool.id).where(Pool.name == name)).scalar_one()
            allocated = [(r.start, r.length) for r in conn.execute(
                select(Allocation.start, Allocation.length).where(Allocation.pool_id == pool_id))]
            free = sorted((r.start, r.length) for r in conn.execute(
                select(FreeBlock.start, FreeBlock.length).where(FreeBlock.pool_id == pool_id)))
            assert addressing.free_blocks(addressing.block(net), allocated) == free, f"{name}: free list disagrees"
            for v in conn.execute(select(PoolVlans.pop, PoolVlans.first, PoolVlans.last).where(PoolVlans.pool_id == pool_id)):
                used = [r.vlan for r in conn.execute(select(Allocation.vlan).where(Allocation.pop == v.pop))]
                runs = conn.execute(select(FreeVlans.first, FreeVlans.last).where(FreeVlans.pool_id == pool_id,
                                                                                  FreeVlans.pop == v.pop))
                spare = [n for r in runs for n in range(r.first, r.last + 1)]
                assert sorted(used + spare) == list(range(v.first, v.last + 1)), f"{name}: VLANs at {v.pop} disagree"
            use = addressing.usage(addressing.block(net), free)
            lines.append(f"pool {name} after: {use.used // 4:,} of {SLASH30:,} /30s used ({use.utilisation:.1%}), "
                         f"{len(free):,} free blocks")
    engine.dispose()
    return "\n".join(lines) + "\nchecked: every prefix distinct and inside its pool; free prefixes and VLANs exact"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-level", type=int, default=600, help="provisions per concurrency level")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="govnet-bench-") as tmp:
        home = Path(tmp)
        database_url = args.database_url or f"sqlite:///{home / 'bench.db'}"
        t0 = time.perf_counter()
        ids = build(database_url, args.per_level)
        built = time.perf_counter() - t0
        proc, url, token = start(database_url, home)
        try:
            # One client on each pool in alternating rounds, so a burst of load from
            # elsewhere on the machine falls on the baseline and the full pool alike.
            n, full_ids = args.per_level, ids["full"]
            rounds = [(provision_level(url, token, ids["empty"][r::ROUNDS], 1),
                       provision_level(url, token, full_ids[r:n:ROUNDS], 1)) for r in range(ROUNDS)]
            baseline, single = combine([a for a, _ in rounds]), combine([b for _, b in rounds])
            levels = [single] + [provision_level(url, token, full_ids[i * n:(i + 1) * n], clients)
                                 for i, clients in enumerate(LEVELS) if clients != 1]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        kind = database_url.split(":", 1)[0]
        print(f"govnet allocation against egactl serve ({kind}, {os.cpu_count()} CPUs): pools of {SLASH30:,} /30s, "
              f"{args.per_level} provisions per row (setup {built:.0f} s, not measured)")
        print(f"{'pool':<6} {'clients':>7}  {'allocs/s':>8}  {'vs baseline':>11}  {'p50 ms':>6}  {'p95 ms':>6}")
        for name, r in [("empty", baseline)] + [("full", r) for r in levels]:
            print(f"{name:<6} {r['clients']:>7}  {r['rate']:>8.1f}  {r['rate'] / baseline['rate']:>10.2f}x  "
                  f"{r['p50']:>6.0f}  {r['p95']:>6.0f}")
        print(check(database_url, {"empty": baseline["prefixes"], "full": [p for r in levels for p in r["prefixes"]]}))


if __name__ == "__main__":
    main()
