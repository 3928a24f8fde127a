"""Twenty people create the same institution at the same moment: one wins, the rest exit 5.

Real `egactl` processes against a real `egactl serve`, on SQLite (WAL, write
transactions queue on BEGIN IMMEDIATE) and on PostgreSQL (the unique
constraint decides). Each process has its own Idempotency-Key, so these are
twenty different requests, not retries of one.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from egactl.server.db import normalise_url

N = 20


def race(server, code: str) -> list[tuple[int, str, str]]:
    procs = [server.popen("institutions", "create", code, "--name", f"Contender {i}", "--kind", "agency", "-o", "json")
             for i in range(N)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        out.append((p.returncode, stdout, stderr))
    return out


def check(outcomes: list[tuple[int, str, str]], database_url: str, code: str) -> None:
    codes = sorted(rc for rc, _, _ in outcomes)
    assert codes == [0] + [5] * (N - 1), [(rc, err[-300:]) for rc, _, err in outcomes if rc not in (0, 5)]
    (winner_out,) = [o for rc, o, _ in outcomes if rc == 0]
    winner = json.loads(winner_out)
    for rc, stdout, stderr in outcomes:
        if rc == 5:
            assert stdout == ""
            assert json.loads(stderr)["message"] == f"an institution with code {code} already exists"
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, version FROM core_institutions WHERE code = :c"), {"c": code}).all()
            audits = conn.execute(text("SELECT count(*) FROM core_audit WHERE resource_id = :c"), {"c": code}).scalar()
    finally:
        engine.dispose()
    assert rows == [(winner["name"], 1)]  # the stored row is the winner's, untouched by the losers
    assert audits == 1


def patch_race(server, code: str, n: int = 8) -> None:
    """Lost updates are impossible: of n PATCHes carrying the same If-Match, one applies, the rest get 412."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    headers = {"Authorization": f"Bearer {server.admin_token}"}
    etag = httpx.get(f"{server.url}/api/v1/institutions/{code}", headers=headers).headers["ETag"]
    barrier = threading.Barrier(n)

    def patch(i):
        with httpx.Client(base_url=server.url, timeout=60) as c:
            barrier.wait()
            return c.patch(f"/api/v1/institutions/{code}", json={"region": f"Region {i}"},
                           headers={**headers, "If-Match": etag}).status_code

    with ThreadPoolExecutor(n) as pool:
        statuses = sorted(pool.map(patch, range(n)))
    assert statuses == [200] + [412] * (n - 1)
    final = httpx.get(f"{server.url}/api/v1/institutions/{code}", headers=headers)
    assert final.json()["version"] == 2 and final.headers["ETag"] == '"v2"'


def test_twenty_concurrent_creates_sqlite(served):
    check(race(served, "UDSM"), served.database_url, "UDSM")
    patch_race(served, "UDSM")


def test_twenty_concurrent_creates_postgres(tmp_path, postgres_url):
    from conftest import start_server

    server = start_server(tmp_path, postgres_url)
    try:
        outcomes = race(server, "UDSM")
        check(outcomes, postgres_url, "UDSM")
        patch_race(server, "UDSM")
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
