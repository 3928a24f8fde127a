"""DR check history is kept 400 days, then deleted by the core's retention worker (as the
dr worker did before): runs and their results past the period go, newer ones stay, a
system's last check stays on its record, and the server may set another period."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_dr.server.models import DrCheckResult, DrCheckRun, DrSystem

ADD = ("--hosting", "gdc-dar", "--primary", "https://idras.tra.go.tz/health", "--dr", "https://idras-dr.tra.go.tz/health",
       "--dr-hosting", "gdc-dodoma", "--rpo", "15m", "--rto", "4h")
CHECK = [{"check": "primary.reachability", "state": "OK", "reason": "200 in 40 ms"}]


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def post(cli, status="OK"):
    body = {"started_at": "2026-11-22T08:59:00+00:00", "finished_at": "2026-11-22T08:59:02+00:00",
            "results": [{"institution": "TRA", "name": "idras", "status": status, "checks": CHECK}]}
    ok(cli("api", "POST", "/api/v1/dr/checks", "--input", "-", input=json.dumps(body)))


def policy(cli):
    [dr] = [p for p in ok(cli("privacy", "retention", "show", "-o", "json")).json() if p["service"] == "dr"]
    return dr


def counts(backend):
    with backend.read_sessions() as s:
        return (s.scalar(select(func.count()).select_from(DrCheckRun)),
                s.scalar(select(func.count()).select_from(DrCheckResult)))


def test_check_history_past_400_days_is_deleted_and_newer_history_stays(cli, backend, clock, monkeypatch):
    ok(cli("dr", "systems", "create", "TRA/idras", *ADD))
    post(cli, "CRITICAL")
    clock.advance(days=300)
    post(cli, "OK")
    assert policy(cli) == {"service": "dr", "name": "checks", "what": "DR check results, and the account that ran each check",
                           "days": 400, "after": "after the check", "due": 0, "due_at_least": False}
    clock.advance(days=99)  # the first run is 399 days old: kept
    backend.run_workers()
    assert counts(backend) == (2, 2)
    clock.advance(days=2)
    assert policy(cli)["due"] == 2  # one run and its result
    with monkeypatch.context() as m:  # counted no further than the cap (SDK 2.6): past it, "at least"
        from egactl.server import pagination

        m.setattr(pagination, "COUNT_UP_TO", 1)
        assert (policy(cli)["due"], policy(cli)["due_at_least"]) == (1, True)
    backend.run_workers()
    assert counts(backend) == (1, 1)
    history = ok(cli("dr", "history", "TRA/idras", "-o", "json")).json()
    assert [h["status"] for h in history] == ["OK"]
    with backend.read_sessions() as s:
        assert s.scalar(select(DrSystem.last_check_status)) == "OK"  # the system's last check stays
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "expire")).all()
    assert (entry.resource_id, entry.after) == ("dr.checks", {"rows": 2})
    backend.run_workers()  # nothing more is due: idempotent
    assert counts(backend) == (1, 1)


def test_the_server_sets_another_period(cli, backend, clock):
    ok(cli("dr", "systems", "create", "TRA/idras", *ADD))
    post(cli)
    clock.advance(days=31)
    backend.run_workers()
    assert counts(backend) == (1, 1)
    backend.overrides["privacy.dr_checks_days"] = 30
    assert policy(cli)["days"] == 30 and policy(cli)["due"] == 2
    backend.run_workers()
    assert counts(backend) == (0, 0)


def test_a_large_backlog_goes_in_bounded_rounds(cli, backend, clock):
    from egactl_dr.server.privacy import CHECKS

    ok(cli("dr", "systems", "create", "TRA/idras", *ADD))
    for _ in range(5):
        post(cli)
    clock.advance(days=401)
    cutoff = clock.now
    with backend.write_sessions() as s:
        assert CHECKS.due(s, cutoff) == 10
        assert CHECKS.expire(s, cutoff, lambda v: v, 2) == 4  # two runs, each with its result
        s.commit()
    assert counts(backend) == (3, 3)


def test_nothing_in_dr_is_about_a_data_subject(cli):
    ok(cli("dr", "systems", "create", "TRA/idras", *ADD))
    post(cli)
    r = ok(cli("privacy", "report", "0754000111", "--case", "PDPA-1", "-o", "json"))
    assert [i for i in r.json()["items"] if i["service"] == "dr"] == []


def test_what_is_due_is_read_from_the_time_indexes(cli, backend, clock):
    from egactl.plugin.testing import query_plans

    ok(cli("dr", "systems", "create", "TRA/idras", *ADD))
    post(cli)
    clock.advance(days=401)
    plans = query_plans(backend.engine, "dr_check_r", lambda: (policy(cli), backend.run_workers()))
    assert plans, plans  # the runs to delete (the counts are left out by query_plans)
    for plan in plans:
        assert "SCAN" not in plan and "ix_dr_check_runs_at" in plan, plan
    with backend.read_sessions() as s:
        for table, index in ((DrCheckRun, "ix_dr_check_runs_at"), (DrCheckResult, "ix_dr_check_results_at")):
            [plan] = [" | ".join(str(r[-1]) for r in s.connection().exec_driver_sql(
                f"EXPLAIN QUERY PLAN SELECT count(*) FROM {table.__tablename__} WHERE at < ?", (clock.now.isoformat(),)))]
            assert index in plan and "SCAN" not in plan.replace("COVERING INDEX", ""), plan


def test_the_periods_former_name_is_still_honoured_with_a_warning(cli, backend, clock, monkeypatch, caplog):
    # A server that shortened the period under its old name must not keep check history
    # 400 days after an upgrade; the new name wins where both are set.
    ok(cli("dr", "systems", "create", "TRA/idras", *ADD))
    post(cli)
    clock.advance(days=31)
    monkeypatch.setenv("EGACTL_DR_CHECK_RETENTION_DAYS", "30")
    with caplog.at_level("WARNING", logger="egactl.server"):
        assert policy(cli)["days"] == 30
    assert "EGACTL_DR_CHECK_RETENTION_DAYS is the former name of EGACTL_PRIVACY_DR_CHECKS_DAYS" in caplog.text
    monkeypatch.setenv("EGACTL_PRIVACY_DR_CHECKS_DAYS", "60")
    assert policy(cli)["days"] == 60
    monkeypatch.delenv("EGACTL_PRIVACY_DR_CHECKS_DAYS")
    backend.run_workers()
    assert counts(backend) == (0, 0)
