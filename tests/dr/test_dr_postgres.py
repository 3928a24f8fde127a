"""The dr plugin on PostgreSQL, what a shared deployment uses: the same commands, with
the constraints that matter enforced by that database (one running drill per
system through a partial unique index, unique names, cascades on removal)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from egactl_dr.server.models import DrCheckResult, DrDrill, DrSystem


@pytest.fixture
def app(postgres_url, clock, backend_settings):
    from egactl.server.app import create_app
    from egactl.server.seed import seed_core

    application = create_app(postgres_url, clock=clock, settings=backend_settings)
    be = application.state.backend
    with be.write_sessions() as session:
        seed_core(session, be.now())
        session.commit()
    yield application
    be.engine.dispose()


ADD = ("--hosting", "gdc-dodoma", "--dr-hosting", "gdc-dar", "--primary", "https://crvs.rita.go.tz/health",
       "--dr", "https://crvs-dr.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")


def test_inventory_drills_history_and_report_on_postgresql(cli, backend):
    assert backend.engine.dialect.name == "postgresql"
    assert cli("dr", "systems", "create", "RITA/crvs", *ADD).exit_code == 0
    assert cli("dr", "systems", "create", "RITA/crvs", *ADD).exit_code == 0  # exists, exactly as asked
    assert cli("dr", "systems", "create", "RITA/crvs", *ADD, "--rpo", "20m").exit_code == 5
    assert cli("dr", "drills", "start", "RITA/crvs").exit_code == 0
    twice = cli("dr", "drills", "start", "RITA/crvs")
    assert twice.exit_code == 5 and "already running" in twice.stderr
    assert cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "2m").exit_code == 0
    assert cli("dr", "drills", "start", "RITA/crvs").exit_code == 0  # the index holds only running drills
    body = {"started_at": "2026-11-22T08:59:00Z", "finished_at": "2026-11-22T08:59:01Z",
            "results": [{"institution": "RITA", "name": "crvs", "status": "WARNING",
                         "checks": [{"check": "replication", "state": "WARNING", "reason": "lagging",
                                     "metrics": {"replication_lag": 780.0}}]}]}
    assert cli("api", "POST", "/api/v1/dr/checks", "--input", "-", input=json.dumps(body)).exit_code == 0
    history = cli("dr", "history", "RITA/crvs", "-o", "json").json()
    assert history[0]["checks"][0]["metrics"] == {"replication_lag": 780.0}
    row = cli("dr", "report", "-o", "json").json()[0]
    assert row["compliant"] is True and row["failing_checks"] == ["replication WARNING: lagging"]

    assert cli("dr", "systems", "delete", "RITA/crvs", "--yes").exit_code == 0
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(DrSystem)) == 0
        assert s.scalar(select(func.count()).select_from(DrDrill)) == 0
        assert s.scalar(select(func.count()).select_from(DrCheckResult)) == 0
