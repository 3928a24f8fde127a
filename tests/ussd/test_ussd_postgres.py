"""ussd on PostgreSQL: the same registry rules (quarantine by clock, the range
running out, counts) on the database a shared deployment uses."""

from __future__ import annotations

import json

import pytest
from conftest import Cli
from sqlalchemy import update

from egactl_ussd.server.models import UssdCode

ASSIGN = ("--service", "Huduma", "--purpose", "Citizen services", "--callback-url", "https://ussd.example.go.tz/u")


@pytest.fixture
def pg_cli(postgres_url, clock):
    from egactl.server.app import create_app
    from egactl.server.seed import seed_core
    from egactl.server.security import issue_token

    app = create_app(postgres_url, clock=clock, plugins=["ussd"])
    be = app.state.backend
    with be.write_sessions() as s:
        seed_core(s, be.now())
        token, _ = issue_token(s, subject="admin@ega.go.tz", role="admin", now=be.now())
        s.commit()
    runner = Cli(app, {"admin": token})
    yield runner, be
    runner.close()
    be.engine.dispose()


def test_quarantine_and_exhaustion_on_postgresql(pg_cli, clock):
    cli, be = pg_cli
    r = cli("ussd", "assign", "-i", "TRA", "--code", "1", *ASSIGN)
    assert r.exit_code == 0, r.stderr
    # Fill the rest of the range directly: the per-code path is what the SQLite test walks.
    with be.write_sessions() as s:
        s.execute(update(UssdCode).where(UssdCode.id >= 2).values(state="assigned", institution="RITA",
                                                                    version=UssdCode.version + 1))
        s.commit()
    assert cli("ussd", "release", "1", "--reason", "retired", "--yes").exit_code == 0

    r = cli("ussd", "assign", "-i", "NIDA", *ASSIGN, "-o", "json")
    assert r.exit_code == 5
    problem = json.loads(r.stderr)["problem"]
    assert "1 is in quarantine, the next frees on 2027-02-20 12:00 EAT" in problem["detail"]
    assert problem["next_free_at"] == "2027-02-20T09:00:00+00:00"

    r = cli("ussd", "available")
    assert r.exit_code == 0, r.stderr
    assert "0 of 99 codes available; 1 in quarantine, the next frees 2027-02-20 12:00 EAT" in r.stderr
    assert json.loads(cli("ussd", "list", "--state", "released", "-o", "json").stdout)[0]["code"] == "*152*01#"

    clock.advance(days=90)
    assert [c["code"] for c in json.loads(cli("ussd", "available", "-o", "json").stdout)] == ["*152*01#"]
    r = cli("ussd", "assign", "-i", "NIDA", *ASSIGN, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["code"] == "*152*01#" and r.json()["institution"] == "NIDA"
    history = json.loads(cli("ussd", "history", "1", "--oldest-first", "-o", "json").stdout)
    assert [(h["action"], h["institution"]) for h in history] == [("assign", "TRA"), ("release", "TRA"),
                                                                    ("assign", "NIDA")]
    newest = json.loads(cli("ussd", "history", "1", "-o", "json").stdout)  # newest first, ordered by time on PostgreSQL too
    assert [h["id"] for h in newest] == [h["id"] for h in reversed(history)]
