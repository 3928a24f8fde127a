"""A cluster that behaves as one: two `egactl serve` processes on one PostgreSQL database.

Allocations are decided by the database, not by a process: 30 `egactl ussd assign`
processes spread over both servers get 30 distinct codes, and 50 GovNet provisions
spread over both get 50 disjoint prefixes and VLANs. (The SMS rate shared by a
cluster is tested with the sms plugin.)
"""

from __future__ import annotations

import ipaddress
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import start_server
from sqlalchemy import select

from egactl.api_client import ApiClient
from egactl.server.db import make_engine

USSD_CLIENTS = 30
PROVISIONS = 50
POOL = ipaddress.IPv4Network("10.60.0.0/24")
VLANS = range(300, 400)


@pytest.fixture
def cluster(tmp_path, postgres_url):
    env = {"EGACTL_USSD_QUOTA": "99"}
    servers = [start_server(tmp_path / "a", postgres_url, extra_env=env),
               start_server(tmp_path / "b", postgres_url, extra_env=env)]
    yield servers
    for server in servers:
        server.proc.terminate()
        server.proc.wait(timeout=10)


def _api(server) -> ApiClient:
    return ApiClient(server.url, token=server.admin_token, retries=8)


def test_thirty_ussd_assigns_across_two_servers_get_distinct_codes(cluster):
    a, b = cluster
    for code, name in (("RITA", "Registration Insolvency and Trusteeship Agency"), ("TRA", "Tanzania Revenue Authority")):
        r = a.run("institutions", "create", code, "--name", name, "--kind", "agency")
        assert r.returncode == 0, r.stderr
    procs = [(a if i % 2 else b).popen("ussd", "assign", "-i", "RITA" if i % 3 else "TRA", "--service", f"Huduma {i}",
                                       "--purpose", "Cluster allocation test",
                                       "--callback-url", f"https://ussd.example.go.tz/{i}", "-o", "json")
             for i in range(USSD_CLIENTS)]
    codes = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        codes.append(json.loads(out)["code"])
    assert len(set(codes)) == USSD_CLIENTS, sorted(codes)
    from egactl_ussd.server.models import UssdCode

    engine = make_engine(a.database_url)
    try:
        with engine.connect() as conn:
            held = conn.execute(select(UssdCode.service_name).where(UssdCode.state == "assigned")).scalars().all()
    finally:
        engine.dispose()
    assert sorted(held) == sorted(f"Huduma {i}" for i in range(USSD_CLIENTS))  # none overwrote another


def test_fifty_govnet_provisions_across_two_servers_never_overlap(cluster):
    from egactl_govnet.client import BASE, find_onboarding, step

    a, b = cluster
    api = _api(a)
    api.post("/api/v1/institutions", {"code": "RITA", "name": "RITA", "kind": "agency"})
    api.post(f"{BASE}/pools", {"name": "cluster", "cidr": str(POOL), "region": "Dodoma", "default_prefix_length": 30,
                               "vlans": [{"pop": "DODOMA", "first": VLANS[0], "last": VLANS[-1]}]})
    names = [f"site-{i}" for i in range(PROVISIONS)]
    items = [{"line": i + 2, "institution": "RITA", "site": n, "region": "Dodoma", "bandwidth": "10M",
              "prefix_length": 30 if i < 40 else 29} for i, n in enumerate(names)]
    results = api.post(f"{BASE}/import", {"items": items})["results"]
    assert all(r["status"] == "requested" for r in results), results
    for r in results:
        step(api, {"id": int(r["id"])}, None, "approve", {})
    api.close()

    barrier = threading.Barrier(PROVISIONS)

    def provision(i_name):
        i, name = i_name
        client = _api(a if i % 2 else b)
        try:
            onboarding, etag = find_onboarding(client, f"RITA/{name}", None)
            barrier.wait(timeout=60)
            return step(client, onboarding, etag, "provision", {"provider": "TTCL", "circuit_id": f"C-{name}"})
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=PROVISIONS) as pool:
        done = list(pool.map(provision, enumerate(names)))
    nets = sorted(ipaddress.IPv4Network(r["prefix"]) for r in done)
    assert len(nets) == PROVISIONS and all(n.subnet_of(POOL) for n in nets)
    assert all(not x.overlaps(y) for x, y in zip(nets, nets[1:]))
    vlans = [r["vlan"] for r in done]
    assert len(set(vlans)) == PROVISIONS and all(v in VLANS for v in vlans)
