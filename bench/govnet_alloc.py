"""GovNet allocation throughput: provisions per second against ``egactl serve``.

One pool of 65,536 /30s (10.64.0.0/14). For 1, 8 and 32 concurrent clients in
turn, each client a thread with its own HTTP connection and egactl's own API
client, the same number of approved requests are provisioned (prefix + VLAN +
circuit, each in one transaction under the pool's lock). Printed per level:
provisions per second, that figure as a ratio to the single client measured in
the same run, and the latency percentiles a client saw.

What to expect: allocation is serialised per pool (that is what makes it
race-free), so more clients do not multiply throughput; they should not
collapse it either, and the time of one allocation must not grow with the
number already made (the free list makes the next prefix one indexed query).
The levels run one after another on the same pool, so the last level works on
the fullest pool; the "first/last 10%" columns compare the speed at the
start and at the end of each level.

Afterwards the run checks what it measured: every prefix distinct, inside
the pool, and the stored free list exactly the pool minus the allocations.

Usage: ``python bench/govnet_alloc.py [--per-level 600] [--database-url URL]``
(default: a fresh SQLite file in a temporary directory).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

POOL = ipaddress.IPv4Network("10.64.0.0/14")
LEVELS = (1, 8, 32)
# VLANs are 1-4094 per PoP; a few PoPs give the pool enough for every level.
POPS = ("DODOMA", "DAR-ES-SALAAM", "ARUSHA", "MWANZA", "MBEYA", "TANGA", "MOROGORO", "IRINGA")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(database_url: str, home: Path) -> tuple[subprocess.Popen, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update({"EGACTL_CONFIG_DIR": str(home / "config"), "EGACTL_DATA_DIR": str(home / "data"),
                "EGACTL_CREDENTIAL_STORE": "file"})
    made = subprocess.run([sys.executable, "-m", "egactl", "serve", "create-token", "--role", "admin", "--subject",
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


def client(url: str, token: str):
    from egactl.api_client import ApiClient

    return ApiClient(url, token=token, retries=8, read_timeout=120)


def prepare(url: str, token: str, total: int) -> list[int]:
    """The pool, and ``total`` approved requests spread over its PoPs; returns their ids."""
    from egactl_govnet.client import BASE, step

    api = client(url, token)
    api.post("/api/v1/institutions", {"code": "BENCH", "name": "Bench agency", "kind": "agency"})
    api.post(f"{BASE}/pools", {"name": "bench", "cidr": str(POOL), "region": "Dodoma", "default_prefix_length": 30,
                               "vlans": [{"pop": p, "first": 1, "last": 4094} for p in POPS]})
    ids: list[int] = []
    for first in range(0, total, 1000):
        items = [{"line": i + 2, "institution": "BENCH", "site": f"s{i}", "region": "Dodoma", "bandwidth": "10M",
                  "pop": POPS[i % len(POPS)]} for i in range(first, min(total, first + 1000))]
        results = api.post(f"{BASE}/import", {"items": items})["results"]
        ids += [int(r["id"]) for r in results if r["status"] == "requested"]
    api.close()
    if len(ids) != total:
        raise SystemExit(f"only {len(ids)} of {total} requests were opened")

    local = threading.local()

    def approve(i: int) -> None:
        if not hasattr(local, "api"):
            local.api = client(url, token)
        step(local.api, {"id": i}, None, "approve", {})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(approve, ids))
    return ids


def provision_level(url: str, token: str, ids: list[int], clients: int) -> dict:
    from egactl_govnet.client import step

    chunks = [ids[i::clients] for i in range(clients)]
    latencies: list[tuple[float, float]] = []  # (finished at, seconds)
    prefixes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def run(mine: list[int]) -> None:
        api = client(url, token)
        barrier.wait()
        for i in mine:
            t0 = time.perf_counter()
            ob = step(api, {"id": i}, None, "provision", {"provider": "BENCH", "circuit_id": f"B{i}"})
            t1 = time.perf_counter()
            with lock:
                latencies.append((t1, t1 - t0))
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
    latencies.sort()
    secs = sorted(s for _, s in latencies)
    tenth = max(1, len(latencies) // 10)

    def rate(window: list[tuple[float, float]], since: float) -> float:
        return len(window) / max(1e-9, window[-1][0] - since)

    return {"clients": clients, "n": len(ids), "rate": len(ids) / elapsed,
            "first10": rate(latencies[:tenth], started),
            "last10": rate(latencies[-tenth:], latencies[-tenth - 1][0] if len(latencies) > tenth else started),
            "p50": statistics.median(secs) * 1000, "p95": secs[int(len(secs) * 0.95) - 1] * 1000,
            "prefixes": prefixes}


def check(database_url: str, prefixes: list[str]) -> str:
    from sqlalchemy import select

    from egactl.server.db import make_engine
    from egactl_govnet import addressing
    from egactl_govnet.backend.models import Allocation, FreeBlock

    nets = sorted(ipaddress.IPv4Network(p) for p in prefixes)
    assert len(set(nets)) == len(nets), "a prefix was handed out twice"
    assert all(n.subnet_of(POOL) for n in nets) and all(not a.overlaps(b) for a, b in zip(nets, nets[1:]))
    engine = make_engine(database_url)
    with engine.connect() as conn:
        allocated = [(r.start, r.length) for r in conn.execute(select(Allocation.start, Allocation.length))]
        free = sorted((r.start, r.length) for r in conn.execute(select(FreeBlock.start, FreeBlock.length)))
    engine.dispose()
    assert addressing.free_blocks(addressing.block(POOL), allocated) == free, "the free list disagrees"
    use = addressing.usage(addressing.block(POOL), free)
    return (f"pool after: {use.used // 4:,} of {POOL.num_addresses // 4:,} /30s used, free list {len(free)} blocks, "
            f"largest free {addressing.cidr(use.largest_free)}; checked: all distinct, inside, free list exact")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-level", type=int, default=600, help="provisions per concurrency level")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="govnet-bench-") as tmp:
        home = Path(tmp)
        database_url = args.database_url or f"sqlite:///{home / 'bench.db'}"
        proc, url, token = start(database_url, home)
        try:
            ids = prepare(url, token, args.per_level * len(LEVELS))
            results = [provision_level(url, token, ids[i * args.per_level:(i + 1) * args.per_level], clients)
                       for i, clients in enumerate(LEVELS)]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        kind = database_url.split(":", 1)[0]
        print(f"govnet allocation: pool {POOL} ({POOL.num_addresses // 4:,} /30s), {kind}, "
              f"{args.per_level} provisions per level, {os.cpu_count()} CPUs")
        print(f"{'clients':>7}  {'allocs/s':>8}  {'vs 1':>5}  {'first 10%':>9}  {'last 10%':>8}  {'p50 ms':>6}  {'p95 ms':>6}")
        base = results[0]["rate"]
        for r in results:
            print(f"{r['clients']:>7}  {r['rate']:>8.1f}  {r['rate'] / base:>4.2f}x  {r['first10']:>9.1f}  "
                  f"{r['last10']:>8.1f}  {r['p50']:>6.0f}  {r['p95']:>6.0f}")
        print(check(database_url, [p for r in results for p in r["prefixes"]]))


if __name__ == "__main__":
    main()
