"""More writers than request threads must not deadlock the backend.

Every write request waits for SQLite's write lock inside its endpoint thread;
the request holding the lock needs one more thread to commit. With more
simultaneous writers than the request pool has threads (40), that commit must
still run (egactl.server.scope._settle), or every waiter times out.
"""

from __future__ import annotations

import threading

import httpx


def test_sixty_simultaneous_writes_all_commit(served):
    start = threading.Barrier(60)
    statuses: list[int] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        with httpx.Client(base_url=served.url, timeout=120,
                          headers={"Authorization": f"Bearer {served.admin_token}"}) as client:
            start.wait()
            r = client.post("/api/v1/institutions", json={"code": f"LGA-{n:03d}", "name": f"Council {n}", "kind": "LGA"},
                            headers={"Idempotency-Key": f"starve-{n}"})
            with lock:
                statuses.append(r.status_code)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert sorted(statuses) == [201] * 60
    listed = served.run("institutions", "list", "--all", "-o", "json", "--query", "[?starts_with(code, 'LGA-')].code")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.split()) == 60 + 2  # the JSON list brackets around 60 codes
