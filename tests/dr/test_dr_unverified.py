"""dr: a check posted by the help desk is an unverified observation, never a check."""

from __future__ import annotations

import json

import pytest

from sqlalchemy import select, text

from egactl_dr.server.models import DrCheckRun, DrSystem

ADD = ("--hosting", "gdc-dodoma", "--dr-hosting", "gdc-dar", "--primary", "https://idras.tra.go.tz/health",
       "--dr", "https://idras-dr.tra.go.tz/health", "--rpo", "15m", "--rto", "4h")
OK_CHECK = [{"check": "primary.reachability", "state": "OK", "reason": "200 in 40 ms"}]


def post(cli, status, role):
    body = {"started_at": "2026-11-22T08:59:00+00:00", "finished_at": "2026-11-22T08:59:02+00:00",
            "results": [{"institution": "TRA", "name": "idras", "status": status, "checks": OK_CHECK}]}
    r = cli("api", "POST", "/api/v1/dr/checks", "--input", "-", role=role, input=json.dumps(body))
    assert r.exit_code == 0, r.stderr
    return r.json()


def row(cli, role="admin"):
    [r] = cli("dr", "report", "-o", "json", role=role).json()
    return r


def test_a_help_desk_ok_never_clears_never_checked(cli, backend, clock):
    assert cli("dr", "systems", "create", "TRA/idras", *ADD).exit_code == 0
    out = post(cli, "OK", "helpdesk")
    assert out["verified"] is False
    with backend.read_sessions() as s:
        run = s.scalars(select(DrCheckRun)).one()
        system = s.scalars(select(DrSystem)).one()
    assert run.verified is False and run.role == "helpdesk"
    assert system.last_check_at is None and system.observed_status == "OK"

    report = row(cli)
    assert report["last_check_at"] is None and report["last_check_status"] is None
    assert "never checked" in report["issues"] and report["compliant"] is False
    assert report["unverified_status"] == "OK" and report["unverified_by"] == "helpdesk@ega.go.tz"
    # When, as people read times (East Africa Time); observed_at stays RFC 3339 for scripts.
    assert ("unverified observation OK by helpdesk@ega.go.tz at 2026-11-22 12:00 EAT "
            "(a help-desk check; an operator's check is needed)") in report["issues"]

    table = cli("dr", "report", role="helpdesk")
    assert "OK (help desk)" in table.stdout and "never checked" in table.stdout
    csv_out = cli("dr", "report", "-o", "csv").stdout
    assert "unverified_status" in csv_out.splitlines()[0]
    history = cli("dr", "history", "TRA/idras", "-o", "json").json()
    assert [h["verified"] for h in history] == [False]
    assert "NO (help desk)" in cli("dr", "history", "TRA/idras").stdout

    # An operator's check is a check: it clears "never checked", and the older observation is no longer shown.
    clock.advance(minutes=5)
    assert post(cli, "OK", "operator_tra")["verified"] is True
    report = row(cli)
    assert report["last_check_status"] == "OK" and "never checked" not in report["issues"]
    assert report["unverified_status"] is None
    assert not any("unverified" in i for i in report["issues"])


def test_a_help_desk_verdict_does_not_replace_an_operators(cli, backend, clock):
    assert cli("dr", "systems", "create", "TRA/idras", *ADD).exit_code == 0
    post(cli, "CRITICAL", "admin")
    clock.advance(minutes=5)
    post(cli, "OK", "helpdesk")
    report = row(cli)
    assert report["last_check_status"] == "CRITICAL" and report["unverified_status"] == "OK"
    assert report["compliant"] is False


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_url")


def test_existing_help_desk_runs_become_unverified_on_upgrade(database_url):
    """Migration v2 on a database that predates it: columns added, helpdesk runs marked."""
    from egactl.server.app import create_app

    url = database_url
    app = create_app(url)
    be = app.state.backend
    with be.engine.begin() as conn:
        conn.execute(text("ALTER TABLE dr_check_runs DROP COLUMN verified"))
        for index in ("ix_dr_systems_primary_host", "ix_dr_systems_dr_host"):  # and what later revisions added
            conn.execute(text(f"DROP INDEX {index}"))
        for c in ("observed_at", "observed_status", "observed_by", "primary_host", "dr_host"):
            conn.execute(text(f"ALTER TABLE dr_systems DROP COLUMN {c}"))
        conn.execute(text("UPDATE alembic_version_dr SET version_num = '0001'"))
        conn.execute(text("INSERT INTO dr_check_runs (at, started_at, finished_at, actor, role, status, "
                          "deadline_exceeded, systems) VALUES ('2026-01-01', '2026-01-01', '2026-01-01', 'hd', "
                          "'helpdesk', 'OK', FALSE, 0), ('2026-01-01', '2026-01-01', '2026-01-01', 'op', "
                          "'operator', 'OK', FALSE, 0)"))
    be.engine.dispose()
    app = create_app(url, upgrade=True)  # as after `egactl serve migrate`
    with app.state.backend.read_sessions() as s:
        assert {r.role: r.verified for r in s.scalars(select(DrCheckRun))} == {"helpdesk": False, "operator": True}
    app.state.backend.engine.dispose()
