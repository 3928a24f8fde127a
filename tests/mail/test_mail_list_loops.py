"""mail: distribution lists never contain one another in a loop.

Before: only a list made a member of itself was refused. Lists that contained each
other (A in B and B in A, or a longer ring) were stored, and mail to any of them would
go round the ring. Now the addition that would close a ring is a 409 naming it (exit 5),
and nothing changes; two additions racing to close one (A into B, B into A at once) take
one lock, so exactly one of them succeeds, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from conftest import start_server
from tests.mail.domains import add_domains


@pytest.fixture
def lists(cli, backend):
    add_domains(backend)
    for name in ("all", "ict", "unit", "desk"):
        assert cli("mail", "list-group", "create", f"{name}@rita.go.tz", "-i", "RITA", "--name", name).exit_code == 0

    def members(address):
        return {m["address"] for m in cli("mail", "list-group", "show", address, "-o", "json").json()["members"]}

    return members


def test_a_list_inside_another_cannot_take_it_in(cli, lists):
    assert cli("mail", "list-group", "add-members", "all@rita.go.tz", "ict@rita.go.tz").exit_code == 0
    version = cli("mail", "list-group", "show", "ict@rita.go.tz", "-o", "json").json()["version"]
    r = cli("mail", "list-group", "add-members", "ict@rita.go.tz", "all@rita.go.tz")
    assert r.exit_code == 5, r.stderr
    assert r.stderr.splitlines()[0] == (
        "error: adding all@rita.go.tz to ict@rita.go.tz would make a loop of lists (ict@rita.go.tz → all@rita.go.tz "
        "→ ict@rita.go.tz): mail to any of them would go round it; remove one of those memberships first")
    assert lists("ict@rita.go.tz") == set()
    assert cli("mail", "list-group", "show", "ict@rita.go.tz", "-o", "json").json()["version"] == version


def test_a_longer_ring_is_refused_whole_and_a_diamond_is_not_a_ring(cli, lists):
    assert cli("mail", "list-group", "add-members", "all@rita.go.tz", "ict@rita.go.tz", "desk@rita.go.tz").exit_code == 0
    assert cli("mail", "list-group", "add-members", "ict@rita.go.tz", "unit@rita.go.tz").exit_code == 0
    # desk and ict both inside all, unit inside ict: desk may hold unit too (two ways down, no way round)
    assert cli("mail", "list-group", "add-members", "desk@rita.go.tz", "unit@rita.go.tz").exit_code == 0
    r = cli("mail", "list-group", "add-members", "unit@rita.go.tz", "juma@example.org", "all@rita.go.tz")
    assert r.exit_code == 5, r.stderr
    assert "(unit@rita.go.tz → all@rita.go.tz → desk@rita.go.tz → unit@rita.go.tz)" in r.stderr
    assert lists("unit@rita.go.tz") == set()  # the outside address of the same request was not added either


def _race(server) -> list[int]:
    """Ten pairs of lists; in each, A into B and B into A sent at once over HTTP."""
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
        assert api.post("/api/v1/institutions", json={"code": "RITA", "name": "Registration Insolvency and "
                                                      "Trusteeship Agency", "kind": "agency"}).status_code == 201
        assert api.post("/api/v1/mail/domains", json={"domain": "rita.go.tz", "institution": "RITA"}).status_code == 201
        for i in range(10):
            for side in "ab":
                r = api.post("/api/v1/mail/lists", json={"address": f"{side}{i}@rita.go.tz", "institution": "RITA",
                                                         "name": f"{side}{i}"})
                assert r.status_code == 201, r.text
    start = threading.Barrier(20)
    codes: list[int] = []

    def add(into: str, member: str) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
            start.wait()
            codes.append(api.post(f"/api/v1/mail/lists/{into}/members", json={"members": [member]}).status_code)

    threads = [threading.Thread(target=add, args=(f"{x}{i}@rita.go.tz", f"{y}{i}@rita.go.tz"))
               for i in range(10) for x, y in (("a", "b"), ("b", "a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
        for i in range(10):
            inside = [m["address"] for side in "ab"
                      for m in api.get(f"/api/v1/mail/lists/{side}{i}@rita.go.tz").json()["members"]]
            assert len(inside) == 1, (i, inside)  # one of the two memberships, never both
    return sorted(codes)


def test_two_additions_closing_one_ring_at_once_on_sqlite(served):
    assert _race(served) == [200] * 10 + [409] * 10


def test_two_additions_closing_one_ring_at_once_on_postgresql(tmp_path, postgres_url):
    server = start_server(tmp_path, postgres_url)
    try:
        assert _race(server) == [200] * 10 + [409] * 10
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
