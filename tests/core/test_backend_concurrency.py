"""Twenty people create the same institution at the same moment: one wins, the rest exit 5.

Real `egactl` processes against a real `egactl serve`, on SQLite (WAL, write
transactions queue on BEGIN IMMEDIATE) and on PostgreSQL (the unique
constraint decides). Each process has its own Idempotency-Key, so these are
twenty different requests, not retries of one.
"""

from __future__ import annotations

import json

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
            # the losers find the winner's institution, with another name: the create rule's conflict
            assert json.loads(stderr)["message"].startswith(f"institution {code} already exists with other values for name")
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


def test_overlapping_bulk_imports_race_row_by_row_postgres(postgres_url):
    """Two admins import overlapping lists at once: a row lost to the other import is "exists",
    not a failed chunk of 200 rows rolled back with it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from egactl.sandbox import SyncASGITransport
    from egactl.server.app import create_app
    from egactl.server.security import issue_token

    app = create_app(postgres_url, plugins=[])
    be = app.state.backend
    with be.write_sessions() as s:
        token, _ = issue_token(s, subject="admin@ega.go.tz", role="admin", now=be.now())
        s.commit()
    transport = SyncASGITransport(app)
    shared = [{"line": i + 2, "code": f"LGA-{i:03d}", "name": f"District Council {i}", "kind": "LGA"} for i in range(40)]
    barrier = threading.Barrier(2)

    def submit(n):
        own = [{"line": 100 + n, "code": f"ONLY-{n}", "name": f"Only in import {n}", "kind": "other"}]
        items = shared if n == 0 else list(reversed(shared))  # opposite orders: the rows collide mid-chunk
        c = httpx.Client(transport=transport, base_url="http://backend", timeout=60)  # not closed: the transport is shared
        barrier.wait()
        return c.post("/api/v1/institutions/bulk", json={"items": items + own},
                      headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"import-{n}"})

    try:
        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(submit, range(2)))
    finally:
        transport.close()
    try:
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        by_code: dict[str, list[str]] = {}
        for r, n in zip(responses, range(2)):
            results = r.json()["results"]
            assert len(results) == 41
            for res in results:
                code = f"ONLY-{n}" if res["line"] >= 100 else shared[res["line"] - 2]["code"]
                by_code.setdefault(code, []).append(res["status"])
        for item in shared:
            assert sorted(by_code[item["code"]]) == ["created", "exists"], item["code"]
        with be.read_sessions() as s:
            n = s.execute(text("SELECT count(*) FROM core_institutions")).scalar()
            audits = s.execute(text("SELECT count(*) FROM core_audit WHERE action = 'create'")).scalar()
        assert n == 42 and audits == 42
    finally:
        be.engine.dispose()
