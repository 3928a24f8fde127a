"""ussd: 30 `egactl ussd assign` processes at once against `egactl serve`, on
SQLite and on PostgreSQL: 30 distinct codes, none given twice."""

from __future__ import annotations

import json

import pytest
from conftest import start_server
from sqlalchemy import select

from egactl.server.db import make_engine
from egactl_ussd.server.models import UssdCode

CLIENTS = 30
MANY = {"EGACTL_USSD_QUOTA": "99"}
"""Each institution takes 15 codes here; the quota's own race is in test_ussd_quota.py."""


@pytest.fixture
def served(tmp_path):
    server = start_server(tmp_path, extra_env=MANY)
    yield server
    stop(server)


def race(server) -> list[str]:
    for code, name in (("RITA", "Registration Insolvency and Trusteeship Agency"), ("TRA", "Tanzania Revenue Authority")):
        r = server.run("institutions", "create", code, "--name", name, "--kind", "agency")
        assert r.returncode == 0, r.stderr
    procs = [server.popen("ussd", "assign", "-i", "RITA" if i % 2 else "TRA", "--service", f"Huduma {i}",
                          "--purpose", "Concurrent allocation test", "--callback-url", f"https://ussd.example.go.tz/{i}",
                          "-o", "json")
             for i in range(CLIENTS)]
    codes = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        codes.append(json.loads(out)["code"])
    return codes


def check(server, codes: list[str]) -> None:
    assert len(set(codes)) == CLIENTS, sorted(codes)
    assert set(codes) == {f"*152*{n:02d}#" for n in range(1, CLIENTS + 1)}  # lowest free first, no gaps
    r = server.run("ussd", "list", "--state", "assigned", "-o", "json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert sorted(c["code"] for c in listed) == sorted(codes)
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(UssdCode.id, UssdCode.state, UssdCode.institution)).all()
    finally:
        engine.dispose()
    assert len(rows) == 100
    held = [(n, inst) for n, state, inst in rows if state == "assigned"]
    assert len(held) == CLIENTS
    by_service = {c["service_name"]: c["code"] for c in listed}
    assert len(by_service) == CLIENTS  # each process got its own code, none overwrote another


def stop(server) -> None:
    server.proc.terminate()
    server.proc.wait(timeout=10)


def test_concurrent_assign_on_sqlite(served):
    check(served, race(served))


def test_concurrent_assign_on_postgresql(tmp_path, postgres_url):
    server = start_server(tmp_path, postgres_url, extra_env=MANY)
    try:
        check(server, race(server))
    finally:
        stop(server)


@pytest.mark.parametrize("clients", [8])
def test_concurrent_assign_of_one_given_code(served, clients):
    """Many ask for the same code: exactly one wins, the others are told it is taken (exit 5)."""
    r = served.run("institutions", "create", "RITA", "--name", "RITA", "--kind", "agency")
    assert r.returncode == 0, r.stderr
    procs = [served.popen("ussd", "assign", "-i", "RITA", "--code", "42", "--service", f"S{i}", "--purpose",
                          "Same code race", "--callback-url", "https://ussd.example.go.tz/x") for i in range(clients)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert sorted(rc for rc, _ in results) == [0] + [5] * (clients - 1)
    assert all("it is assigned" in err for rc, err in results if rc == 5)
