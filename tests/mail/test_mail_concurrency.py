"""mail: 20 processes create a mailbox for people of the same name at once, against a real
`egactl serve` — on SQLite and on PostgreSQL. Twenty distinct addresses, never one twice.

The processes start, import everything, then wait for one "go" file, so their
requests really arrive together (process start-up would otherwise spread them out).
"""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import create_engine, text

from conftest import start_server
from egactl.server.db import normalise_url

N = 20

RACER = """
import os, sys, time
import egactl.cli, egactl.api_client, egactl_mail.commands  # everything imported before the start
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.002)
sys.argv = ["egactl", *sys.argv[2:]]
from egactl.__main__ import main
main()
"""


def race(server, tmp_path) -> list[str]:
    for args in (("institutions", "create", "RITA", "--name", "Registration Insolvency and Trusteeship Agency",
                  "--kind", "agency"),
                 ("mail", "domains", "create", "rita.go.tz", "-i", "RITA")):
        r = server.run(*args)
        assert r.returncode == 0, r.stderr
    operator = server.token("operator", "RITA")
    go = tmp_path / "go"
    env = dict(server.env, EGACTL_TOKEN=operator)
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(go), "mail", "create", "-i", "RITA", "--given-name", "Juma",
                               "--family-name", "Mrisho", "-e", f"{300000000 + i}", "-o", "json"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(N)]
    go.touch()
    addresses = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        addresses.append(json.loads(out)["address"])
    return addresses


def stored(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as c:
            return [tuple(row) for row in c.execute(text(
                "SELECT m.address, a.address FROM mail_mailboxes m JOIN mail_addresses a ON a.mailbox_id = m.id"))]
    finally:
        engine.dispose()


def check(addresses: list[str], database_url: str) -> None:
    expected = {"juma.mrisho@rita.go.tz"} | {f"juma.mrisho{n}@rita.go.tz" for n in range(2, N + 1)}
    assert len(addresses) == N and set(addresses) == expected
    rows = stored(database_url)
    assert len(rows) == N and {m for m, _ in rows} == expected and all(m == a for m, a in rows)


def test_concurrent_creates_sqlite(served, tmp_path):
    check(race(served, tmp_path), served.database_url)


def test_concurrent_creates_postgresql(tmp_path, postgres_url):
    server = start_server(tmp_path, postgres_url)
    try:
        check(race(server, tmp_path), postgres_url)
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
