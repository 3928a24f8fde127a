"""Thirty egactl commands at once on a fresh sandbox.

Before: on a loaded machine, processes waiting for SQLite's write lock past the
busy timeout exited 1 with "unexpected error: OperationalError: database is
locked", and processes that arrived between the schema's creation and its seed
listed an empty sandbox. Now every process either works on a seeded sandbox
(exit 0) or says the database stayed busy, exit 7, with a hint; never exit 1.

``EGACTL_SQLITE_BUSY_TIMEOUT`` (seconds) shortens the 30-second timeout so that
"past the busy timeout" happens on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from egactl.errors import BUSY_HINT

CHILD = """
import os, sys, time
import egactl.cli, egactl.server.app
egactl.server.app.load_parts()  # imports done first, so that the herd really starts together
open(sys.argv[1] + "." + str(os.getpid()), "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
egactl.cli.main(sys.argv[2:])
"""


def herd(tmp_path: Path, n: int, busy_timeout: str, *args: str) -> list[subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(EGACTL_DATA_DIR=str(tmp_path / "data"), EGACTL_CONFIG_DIR=str(tmp_path / "config"),
               EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1", EGACTL_SQLITE_BUSY_TIMEOUT=busy_timeout)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(go), *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    give_up = time.monotonic() + 600  # not an assertion: the herd just starts less together
    while len(list(tmp_path.glob("go.*"))) < n and time.monotonic() < give_up and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    go.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=900)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize("busy_timeout", ["0.05", "30"])
def test_thirty_processes_on_a_fresh_sandbox(tmp_path, busy_timeout):
    results = herd(tmp_path, 30, busy_timeout, "institutions", "list", "-o", "json")
    codes = sorted(r.returncode for r in results)
    assert set(codes) <= {0, 7}, [(r.returncode, r.stderr[-300:]) for r in results if r.returncode not in (0, 7)]
    for r in results:
        if r.returncode == 7:
            (line,) = r.stderr.strip().splitlines()
            error = json.loads(line)
            assert error["error"] == "busy" and "stayed busy" in error["message"], line
            assert error["hint"] == BUSY_HINT
        else:
            # Never a schema without its seed: every listing sees the sandbox's 8 institutions.
            assert len(json.loads(r.stdout)) == 8, r.stdout
    assert 0 in codes
    # Whatever the herd did, the sandbox is whole and seeded once.
    env = dict(os.environ, EGACTL_DATA_DIR=str(tmp_path / "data"), EGACTL_CONFIG_DIR=str(tmp_path / "config"),
               EGACTL_CREDENTIAL_STORE="file")
    r = subprocess.run([sys.executable, "-m", "egactl", "institutions", "list", "-o", "json"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert sorted(i["code"] for i in json.loads(r.stdout)) == sorted(
        ["EGA", "RITA", "TRA", "NIDA", "MOH", "UDOM", "KINONDONI-MC", "ARUSHA-CC"])


def test_a_request_kept_waiting_past_the_busy_timeout_is_exit_7(tmp_path, monkeypatch):
    """Before: the endpoint's BEGIN IMMEDIATE failed, the server answered 500 and the
    command exited 1 ("the server failed to handle this request")."""
    import sqlite3

    from sqlalchemy import select
    from typer.testing import CliRunner

    from egactl.cli import app as egactl_app
    from egactl.context import Context
    from egactl.sandbox import SyncASGITransport
    from egactl.server.app import create_app
    from egactl.server.models import Institution
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core

    monkeypatch.setenv("EGACTL_SQLITE_BUSY_TIMEOUT", "0.2")
    path = tmp_path / "backend.db"
    app = create_app(f"sqlite:///{path}")
    be = app.state.backend
    with be.write_sessions() as s:
        seed_core(s, be.now())
        token, _ = issue_token(s, subject="admin@ega.go.tz", role="admin", now=be.now())
        s.commit()
    transport = SyncASGITransport(app)

    def create():
        ctx = Context(transport=transport, token=token, sleep=lambda s: None)
        return CliRunner().invoke(egactl_app, ["institutions", "create", "UDSM", "--name", "University of Dar es Salaam",
                                               "--kind", "other"], obj=ctx)

    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process's long write
        r = create()
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    try:
        assert r.exit_code == 7, (r.stdout, r.stderr)
        assert r.stderr.splitlines() == ["error: the database stayed busy (another writer held it past the busy "
                                         "timeout); nothing was changed; try again in a moment"]
        with be.read_sessions() as s:
            assert s.scalar(select(Institution).where(Institution.code == "UDSM")) is None
        assert create().exit_code == 0  # once the lock is gone, the same command works
    finally:
        transport.close()
        be.engine.dispose()


def test_concurrent_first_starts_on_postgresql(postgres_url, tmp_path):
    """Ten backends starting at once on a fresh PostgreSQL database (as several API
    processes behind a load balancer do): one creates the schema, the others wait for
    it on the migration lock or find it current; every start succeeds."""
    from sqlalchemy import create_engine, inspect, text

    from egactl.server.db import normalise_url

    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(EGACTL_CONFIG_DIR=str(tmp_path / "config"), EGACTL_DATA_DIR=str(tmp_path / "data"),
               EGACTL_CREDENTIAL_STORE="file")
    procs = [subprocess.Popen([sys.executable, "-m", "egactl", "serve", "tokens", "create", "--role", "admin",
                               "--subject", f"api-{i}@ega.go.tz", "--database-url", postgres_url, "-o", "json"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(10)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0] * 10, results
    engine = create_engine(normalise_url(postgres_url))
    try:
        with engine.connect() as conn:
            versions = [(t.removeprefix("alembic_version_"),
                         conn.execute(text(f"SELECT count(*) FROM {t}")).scalar())
                        for t in inspect(conn).get_table_names() if t.startswith("alembic_version_")]
            tokens = conn.execute(text("SELECT count(*) FROM core_tokens")).scalar()
    finally:
        engine.dispose()
    assert {name for name, _ in versions} == {"core", "dr", "esb", "govnet", "mail", "sms", "ussd"}
    assert all(n == 1 for _, n in versions) and tokens == 10
