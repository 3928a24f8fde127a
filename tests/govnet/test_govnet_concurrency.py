"""Race-free addressing: many clients provisioning from one pool at once, against `egactl serve`
(SQLite and PostgreSQL). Clients are threads, each with its own HTTP connection, using the same
client code as `egactl govnet provision`; the exhaustion message is checked with the real executable."""

from __future__ import annotations

import ipaddress
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from conftest import start_server
from egactl.api_client import ApiClient
from egactl.errors import Conflict
from egactl_govnet import addressing
from egactl_govnet.client import BASE, find_onboarding, step

POOL = ipaddress.IPv4Network("10.50.0.0/24")
VLANS = range(200, 300)


def api_for(server) -> ApiClient:
    return ApiClient(server.url, token=server.admin_token, retries=8)


def prepare(server, lengths: list[int], first: int = 0) -> list[str]:
    """Sites with approved requests, one per prefix length given; returns their names."""
    api = api_for(server)
    if first == 0:
        api.post("/api/v1/institutions", {"code": "RITA", "name": "RITA", "kind": "agency"})
        api.post(f"{BASE}/pools", {"name": "conc", "cidr": str(POOL), "region": "Dodoma", "default_prefix_length": 30,
                                   "vlans": [{"pop": "DODOMA", "first": VLANS[0], "last": VLANS[-1]}]})
    names = [f"site-{first + i}" for i in range(len(lengths))]
    items = [{"line": i + 2, "institution": "RITA", "site": n, "region": "Dodoma", "bandwidth": "10M", "prefix_length": l}
             for i, (n, l) in enumerate(zip(names, lengths))]
    results = api.post(f"{BASE}/import", {"items": items})["results"]
    assert all(r["status"] == "requested" for r in results), results
    for r in results:
        step(api, {"id": int(r["id"])}, None, "approve", {})
    api.close()
    return names


def provision_all(server, names: list[str]) -> tuple[list[dict], list[Exception]]:
    barrier = threading.Barrier(len(names))

    def one(name: str):
        api = api_for(server)
        try:
            onboarding, etag = find_onboarding(api, f"RITA/{name}", None)
            barrier.wait(timeout=60)
            return step(api, onboarding, etag, "provision", {"provider": "TTCL", "circuit_id": f"C-{name}"})
        except Exception as exc:  # collected and asserted on below
            return exc
        finally:
            api.close()

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        outcomes = list(pool.map(one, names))
    return [o for o in outcomes if isinstance(o, dict)], [o for o in outcomes if not isinstance(o, dict)]


def check_stored(server) -> None:
    """The database agrees: allocations disjoint, inside the pool, and the free list is exactly the rest."""
    from egactl.server.db import make_engine
    from egactl_govnet.server.models import Allocation, FreeBlock, FreeVlans, Pool

    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            pool = conn.execute(select(Pool.start, Pool.length).where(Pool.name == "conc")).one()
            allocated = [(r.start, r.length) for r in conn.execute(select(Allocation.start, Allocation.length))]
            free = sorted((r.start, r.length) for r in conn.execute(select(FreeBlock.start, FreeBlock.length)))
            vlans = [r.vlan for r in conn.execute(select(Allocation.vlan))]
            free_vlans = [v for r in conn.execute(select(FreeVlans.first, FreeVlans.last)) for v in range(r.first, r.last + 1)]
    finally:
        engine.dispose()
    assert addressing.free_blocks((pool.start, pool.length), allocated) == free
    assert len(set(vlans)) == len(vlans)
    assert sorted(vlans + free_vlans) == list(VLANS)   # every VLAN either allocated or free, never both


def assert_disjoint_inside(results: list[dict]) -> None:
    nets = [ipaddress.IPv4Network(r["prefix"]) for r in results]
    assert len(set(nets)) == len(nets)
    assert all(n.subnet_of(POOL) for n in nets)
    ordered = sorted(nets)
    assert all(not a.overlaps(b) for a, b in zip(ordered, ordered[1:]))
    vlans = [r["vlan"] for r in results]
    assert len(set(vlans)) == len(vlans) and all(v in VLANS for v in vlans)


def run_fifty(server) -> None:
    lengths = [30] * 40 + [29] * 10          # mixed lengths: 240 of the pool's 256 addresses
    names = prepare(server, lengths)
    done, failed = provision_all(server, names)
    assert failed == [] and len(done) == 50
    assert_disjoint_inside(done)
    by_site = {r["site"]: r for r in done}
    for name, length in zip(names, lengths):
        assert ipaddress.IPv4Network(by_site[f"RITA/{name}"]["prefix"]).prefixlen == length
    check_stored(server)

    # Ten more /29s race for the last 16 addresses: the few that fit get them, the rest hear which pool is full.
    more = prepare(server, [29] * 10, first=50)
    done2, failed2 = provision_all(server, more)
    assert 0 <= len(done2) <= 2 and len(done2) + len(failed2) == 10
    assert all(isinstance(e, Conflict) and "pool conc (10.50.0.0/24) is full" in e.message for e in failed2), failed2
    assert_disjoint_inside(done + done2)
    check_stored(server)


def test_fifty_concurrent_provisions_sqlite(served):
    run_fifty(served)


def test_fifty_concurrent_provisions_postgresql(tmp_path, postgres_url):
    server = start_server(tmp_path, postgres_url)
    try:
        run_fifty(server)
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)


def test_exhaustion_exits_5_naming_the_pool(served):
    api = api_for(served)
    api.post("/api/v1/institutions", {"code": "RITA", "name": "RITA", "kind": "agency"})
    api.post(f"{BASE}/pools", {"name": "tiny", "cidr": "192.168.9.0/30", "region": "Dodoma",
                               "vlans": [{"pop": "DODOMA", "first": 10, "last": 20}]})
    items = [{"line": i + 2, "institution": "RITA", "site": f"s{i}", "region": "Dodoma", "bandwidth": "2M"} for i in range(2)]
    for r in api.post(f"{BASE}/import", {"items": items})["results"]:
        step(api, {"id": int(r["id"])}, None, "approve", {})
    api.close()
    ok = served.run("govnet", "provision", "RITA/s0", "--provider", "TTCL", "--circuit-id", "A", "-o", "json")
    assert ok.returncode == 0, ok.stderr
    full = served.run("govnet", "provision", "RITA/s1", "--provider", "TTCL", "--circuit-id", "B")
    assert full.returncode == 5
    assert full.stderr.strip() == "error: pool tiny (192.168.9.0/30) is full: no free /30 left (nothing is free)"
    scripted = served.run("govnet", "provision", "RITA/s1", "--provider", "TTCL", "--circuit-id", "B", "-o", "json")
    import json

    problem = json.loads(scripted.stderr)
    assert scripted.returncode == 5 and problem["exit_code"] == 5 and problem["problem"]["pool"] == "tiny"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Loopback only: a proxy from the environment must not sit between the clients and the server."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
