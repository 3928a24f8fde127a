"""dr drill start/finish, dr drills list, and dr report (the compliance view and its CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import select

from egactl.server.models import AuditEntry
from egactl_dr.server.models import DrDrill, DrSystem

ADD = ("--hosting", "gdc-dodoma", "--dr-hosting", "gdc-dar", "--primary", "https://crvs.rita.go.tz/health",
       "--dr", "https://crvs-dr.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")


def iso(clock, **delta) -> str:
    return (clock.now + dt.timedelta(**delta)).isoformat()


def drills(backend):
    with backend.read_sessions() as s:
        return s.scalars(select(DrDrill).order_by(DrDrill.id)).all()


def test_a_drill_within_targets_passes(cli, backend, clock):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    r = cli("dr", "drills", "start", "RITA/crvs", "--at", iso(clock, hours=-2), "--notes", "annual failover")
    assert r.exit_code == 0, r.stderr
    assert "Started drill 1 of RITA/crvs" in r.stderr
    r = cli("dr", "drills", "finish", "RITA/crvs", "--restored-at", iso(clock, minutes=-25), "--data-loss", "4m",
            "-o", "json")
    assert r.exit_code == 0, r.stderr
    out = r.json()
    assert out["result"] == "passed" and out["failure_reasons"] == []
    assert out["measured_rto_minutes"] == 95 and out["data_loss_minutes"] == 4
    [row] = drills(backend)
    assert row.result == "passed" and row.finished_by == "admin@ega.go.tz"
    with backend.read_sessions() as s:
        system = s.scalar(select(DrSystem))
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.resource_type == "dr_system")).all()
    assert system.last_drill_passed_at == clock.now - dt.timedelta(hours=2)
    assert actions == ["create", "drill-start", "drill-finish"]


def test_a_drill_beyond_its_targets_fails_with_reasons(cli, backend, clock):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    cli("dr", "drills", "start", "RITA/crvs", "--at", iso(clock, hours=-6))
    r = cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "40m")
    assert r.exit_code == 0, r.stderr
    assert "FAILED" in r.stderr
    assert "service restored after 6 h, beyond the RTO of 4 h" in r.stderr
    assert "40 min of data lost, beyond the RPO of 15 min" in r.stderr
    [row] = drills(backend)
    assert row.result == "failed" and row.measured_rto_minutes == 360
    with backend.read_sessions() as s:
        assert s.scalar(select(DrSystem.last_drill_passed_at)) is None


def test_failed_failover_and_state_rules(cli, backend, clock):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    none_running = cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0")
    assert none_running.exit_code == 5 and "no drill of RITA/crvs is running" in none_running.stderr
    assert cli("dr", "drills", "start", "RITA/crvs").exit_code == 0
    twice = cli("dr", "drills", "start", "RITA/crvs")
    assert twice.exit_code == 5 and "already running" in twice.stderr
    assert cli("dr", "drills", "finish", "RITA/crvs").exit_code == 2  # how much data was lost?
    future = cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0", "--restored-at", iso(clock, hours=3))
    assert future.exit_code == 2 and "in the future" in future.stderr
    r = cli("dr", "drills", "finish", "RITA/crvs", "--failed", "--notes", "DR database would not mount", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["result"] == "failed" and r.json()["failure_reasons"] == ["the failover did not complete"]
    assert len(drills(backend)) == 1


def test_drill_messages_name_times_in_east_africa_time(cli, backend, clock):
    """Every time a drill's messages show people is EAT to the minute (07:00 UTC is 10:00 EAT), whether the
    command or the backend words it; the API's fields stay RFC 3339."""
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    dry = cli("dr", "drills", "start", "RITA/crvs", "--at", iso(clock, hours=-2), "--dry-run")
    assert dry.exit_code == 0 and "would start a drill of RITA/crvs at 2026-11-22 10:00 EAT" in dry.stderr
    r = cli("dr", "drills", "start", "RITA/crvs", "--at", iso(clock, hours=-2))
    assert r.exit_code == 0, r.stderr
    assert "Started drill 1 of RITA/crvs at 2026-11-22 10:00 EAT; run `egactl dr drills finish" in r.stderr
    shown = cli("dr", "drills", "list", "RITA/crvs", "-o", "json").json()
    assert [d["started_at"] for d in shown] == ["2026-11-22T07:00:00+00:00"]
    twice = cli("dr", "drills", "start", "RITA/crvs")
    assert twice.exit_code == 5
    assert "a drill of RITA/crvs is already running since 2026-11-22 10:00 EAT; finish it first" in twice.stderr
    dry = cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0", "--dry-run")
    assert dry.exit_code == 0 and "would finish drill 1 of RITA/crvs (started 2026-11-22 10:00 EAT)" in dry.stderr
    early = cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0", "--restored-at", iso(clock, hours=-3))
    assert early.exit_code == 2
    assert "restored_at 2026-11-22 09:00 EAT is before the drill started (2026-11-22 10:00 EAT)" in early.stderr
    future = cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0", "--restored-at", iso(clock, hours=3))
    assert future.exit_code == 2 and "restored_at 2026-11-22 15:00 EAT is in the future" in future.stderr
    assert [d.result for d in drills(backend)] == ["running"]


def test_typed_times_are_east_africa_time_like_the_times_egactl_shows(cli, backend, clock):
    """A TIME without a zone is East Africa Time, as every time egactl shows people is, so a time typed
    back as it was read is the moment that was shown; the form egactl prints and RFC 3339 are read too.
    At 22:30 UTC it is 01:30 the next day in Dar es Salaam: read as UTC, these times would be hours off."""
    utc = dt.timezone.utc
    clock.advance(hours=13, minutes=30)
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    r = cli("dr", "drills", "start", "RITA/crvs", "--at", "2026-11-23 00:30")
    assert r.exit_code == 0, r.stderr
    assert "Started drill 1 of RITA/crvs at 2026-11-23 00:30 EAT" in r.stderr
    assert drills(backend)[0].started_at == dt.datetime(2026, 11, 22, 21, 30, tzinfo=utc)
    r = cli("dr", "drills", "finish", "RITA/crvs", "--restored-at", "2026-11-23 01:15 EAT", "--data-loss", "0",
            "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["restored_at"] == "2026-11-22T22:15:00+00:00" and r.json()["measured_rto_minutes"] == 45
    r = cli("dr", "drills", "start", "RITA/crvs", "--at", "2026-11-22T22:20Z", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["started_at"] == "2026-11-22T22:20:00+00:00"
    for typed, problem in (
            ("2026-11-23 01:25 EST5EDTX", "unknown time zone 'EST5EDTX'"),
            ("2026-11-23T01:25+03:00 EAT", "gives both an offset and a zone; give one"),
            ("soon", "must be how long ago (90m, 2h, 3d) or a time: 2026-11-20 11:30 (East Africa Time)")):
        bad = cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0", "--restored-at", typed)
        assert bad.exit_code == 2 and f"--restored-at: time {typed!r}" in bad.stderr and problem in bad.stderr
    assert [d.result for d in drills(backend)] == ["passed", "running"]


def test_history_since_a_time_read_in_east_africa_time(cli, clock):
    """Checks at 09:00, 10:00 and 11:00 UTC are 12:00, 13:00 and 14:00 EAT, as the history shows them:
    --since 13:30 (EAT, no zone given) keeps the last one; read as UTC it would keep none."""
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    for state in ("OK", "WARNING", "CRITICAL"):
        record(cli, "RITA/crvs", state, [{"check": "replication", "state": state, "reason": state.lower()}])
        clock.advance(hours=1)
    since = cli("dr", "history", "RITA/crvs", "-o", "json", "--since", "2026-11-22 13:30").json()
    assert [h["status"] for h in since] == ["CRITICAL"]
    shown = cli("dr", "history", "RITA/crvs").stdout.splitlines()
    assert shown[1].startswith("2026-11-22 14:00 EAT")
    typed_back = cli("dr", "history", "RITA/crvs", "-o", "json", "--since", "2026-11-22 13:00 EAT").json()
    assert [h["status"] for h in typed_back] == ["CRITICAL", "WARNING"]  # from the moment shown, inclusive


def test_drills_list_filters_and_operators_see_their_own(cli, clock):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    cli("dr", "systems", "create", "TRA/idras", *ADD)
    for ref in ("RITA/crvs", "TRA/idras"):
        cli("dr", "drills", "start", ref)
    cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0")
    # Started at the same moment: the later record is the newer.
    assert [d["system"] for d in cli("dr", "drills", "list", "-o", "json").json()] == ["TRA/idras", "RITA/crvs"]
    running = cli("dr", "drills", "list", "--result", "running", "-o", "json").json()
    assert [d["system"] for d in running] == ["TRA/idras"]
    assert [d["system"] for d in cli("dr", "drills", "list", "RITA/crvs", "-o", "json").json()] == ["RITA/crvs"]
    assert [d["system"] for d in cli("dr", "drills", "list", "-o", "json", role="operator").json()] == ["RITA/crvs"]
    table = cli("dr", "drills", "list")
    assert "RTO TARGET" in table.stdout.splitlines()[0] and "passed" in table.stdout


def record(cli, ref, status, checks, role="admin"):
    inst, name = ref.split("/")
    body = {"started_at": "2026-11-22T08:59:00+00:00", "finished_at": "2026-11-22T08:59:02+00:00",
            "results": [{"institution": inst, "name": name, "status": status, "checks": checks}]}
    import json

    r = cli("api", "POST", "/api/v1/dr/checks", "--input", "-", role=role, input=json.dumps(body))
    assert r.exit_code == 0, r.stderr
    return r.json()


def test_report_shows_compliance_and_its_csv_is_the_quarterly_report(cli, clock):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    cli("dr", "drills", "start", "RITA/crvs")
    cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0")
    record(cli, "RITA/crvs", "OK", [{"check": "version", "state": "OK", "reason": "both sites run 1"}])
    cli("dr", "systems", "create", "TRA/idras", *ADD)
    record(cli, "TRA/idras", "CRITICAL", [{"check": "dr.tls", "state": "CRITICAL", "reason": "certificate expired"},
                                         {"check": "replication", "state": "WARNING", "reason": "lagging"}])
    cli("dr", "systems", "create", "MOH/dhis2", "--hosting", "moh-server-room", "--primary", "https://dhis2.moh.go.tz/",
        "--rpo", "1d", "--rto", "2d")

    rows = {r["system"]: r for r in cli("dr", "report", "-o", "json").json()}

    assert rows["RITA/crvs"]["compliant"] is True and rows["RITA/crvs"]["issues"] == []
    tra = rows["TRA/idras"]
    assert tra["compliant"] is False
    assert tra["issues"] == ["1 failing check(s) in the last run", "no successful drill on record"]
    assert tra["failing_checks"] == ["dr.tls CRITICAL: certificate expired", "replication WARNING: lagging"]
    moh = rows["MOH/dhis2"]
    assert moh["issues"][:3] == ["no DR site", "primary hosted in 'moh-server-room', not an approved environment",
                                 "never checked"]

    table = cli("dr", "report")
    assert "3 system(s): 1 compliant, 2 not" in table.stderr and "1 without a DR site" in table.stderr
    only = cli("dr", "report", "--problems-only", "-o", "json").json()
    assert {r["system"] for r in only} == {"TRA/idras", "MOH/dhis2"}

    r = cli("dr", "report", "-o", "csv")
    assert r.exit_code == 0 and r.stderr == ""
    parsed = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(parsed[0]) == ["system", "institution", "name", "criticality", "compliant", "issues", "has_dr_site",
                               "hosting", "hosting_approved", "dr_hosting", "dr_hosting_approved", "last_check_at",
                               "last_check_status", "failing_checks", "last_successful_drill_at",
                               "days_since_successful_drill", "drill_overdue", "unverified_at", "unverified_status",
                               "unverified_by"]
    tra_csv = next(p for p in parsed if p["system"] == "TRA/idras")
    assert tra_csv["issues"] == "1 failing check(s) in the last run; no successful drill on record"
    assert tra_csv["compliant"] == "no" and tra_csv["drill_overdue"] == "yes"


def test_the_report_says_as_of_when_in_east_africa_time(cli, clock):
    """The summary line's "as of" is the command's clock, shown as people read times (EAT, to the minute)."""
    from typer.testing import CliRunner

    from egactl.cli import app
    from egactl.context import Context

    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    clock.advance(hours=13, minutes=5)  # 22:05 UTC: 01:05 the next day in Dar es Salaam
    ctx = Context(transport=cli.transport, token=cli.tokens["admin"], sleep=lambda s: None, clock=clock)
    r = CliRunner().invoke(app, ["dr", "report"], obj=ctx)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.strip().endswith("; as of 2026-11-23 01:05 EAT")


def test_report_ages_drills_and_checks_by_the_backend_clock(cli, clock):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    cli("dr", "drills", "start", "RITA/crvs")
    cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0")
    record(cli, "RITA/crvs", "OK", [{"check": "version", "state": "OK", "reason": "same"}])
    assert cli("dr", "report", "-o", "json").json()[0]["compliant"] is True
    clock.advance(days=30)
    assert cli("dr", "report", "-o", "json").json()[0]["issues"] == ["not checked for 30 days"]
    record(cli, "RITA/crvs", "OK", [{"check": "version", "state": "OK", "reason": "same"}])
    clock.advance(days=340)
    record(cli, "RITA/crvs", "OK", [{"check": "version", "state": "OK", "reason": "same"}])
    row = cli("dr", "report", "-o", "json").json()[0]
    assert row["drill_overdue"] is True
    assert row["issues"] == ["drill overdue: last passed 370 days ago (due every 365 days)"]


def test_recording_rules(cli, backend):
    cli("dr", "systems", "create", "TRA/idras", *ADD)
    import json

    body = {"started_at": "2026-11-22T08:59:00Z", "finished_at": "2026-11-22T08:59:01Z",
            "results": [{"institution": "TRA", "name": "idras", "status": "OK", "checks": []}]}
    denied = cli("api", "POST", "/api/v1/dr/checks", "--input", "-", role="operator", input=json.dumps(body))
    assert denied.exit_code == 4
    body["results"][0]["status"] = "FINE"
    assert cli("api", "POST", "/api/v1/dr/checks", "--input", "-", input=json.dumps(body)).exit_code == 2
    out = record(cli, "TRA/idras", "OK", [], role="helpdesk")
    assert out["role"] == "helpdesk"
    history = cli("dr", "history", "TRA/idras", "-o", "json", role="helpdesk").json()
    assert [h["checked_by"] for h in history] == ["helpdesk@ega.go.tz"]
    with backend.read_sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.resource_type == "dr_check_run"))
    assert entry.actor == "helpdesk@ega.go.tz" and entry.institution == "TRA"


def test_history_is_newest_first_and_pages(cli, clock):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    for i, state in enumerate(("OK", "WARNING", "CRITICAL")):
        record(cli, "RITA/crvs", state, [{"check": "replication", "state": state, "reason": f"run {i}",
                                          "metrics": {"replication_lag": 60.0 * (i + 1)}}])
        clock.advance(hours=1)
    r = cli("dr", "history", "RITA/crvs", "-o", "json", "--limit", "2")
    assert [h["status"] for h in r.json()] == ["CRITICAL", "WARNING"]
    assert len(cli("dr", "history", "RITA/crvs", "-o", "json", "--all").json()) == 3
    since = cli("dr", "history", "RITA/crvs", "-o", "json", "--since", iso(clock, hours=-2, minutes=-30)).json()
    assert [h["status"] for h in since] == ["CRITICAL", "WARNING"]
    table = cli("dr", "history", "RITA/crvs")
    lines = table.stdout.splitlines()
    assert "REPL LAG" in lines[0] and "3 min" in lines[1] and "replication CRITICAL" in lines[1]



def test_drills_list_is_newest_first_by_start_time_and_oldest_first_reverses(cli, clock):
    """Newest first by when a drill started, not by when it was recorded (a drill may be
    recorded afterwards with --at), through every page; --oldest-first reverses it."""
    for ref, ago in (("RITA/crvs", {"days": -2}), ("TRA/idras", {"hours": -1}), ("MOH/dhis2", {"days": -5})):
        cli("dr", "systems", "create", ref, *ADD)
        r = cli("dr", "drills", "start", ref, "--at", iso(clock, **ago))
        assert r.exit_code == 0, r.stderr
    newest = cli("dr", "drills", "list", "-o", "json")
    assert [d["system"] for d in newest.json()] == ["TRA/idras", "RITA/crvs", "MOH/dhis2"]
    paged = [d["system"] for d in cli("dr", "drills", "list", "-o", "json", "--limit", "2").json()]
    assert paged == ["TRA/idras", "RITA/crvs"]
    oldest = cli("dr", "drills", "list", "--oldest-first", "-o", "json")
    assert oldest.exit_code == 0, oldest.stderr
    assert [d["system"] for d in oldest.json()] == ["MOH/dhis2", "RITA/crvs", "TRA/idras"]
    raw = cli("api", "GET", "/api/v1/dr/drills", "-f", "oldest_first=true", "-f", "limit=1")
    assert [d["system"] for d in raw.json()["items"]] == ["MOH/dhis2"] and raw.json()["next_cursor"]
    table = cli("dr", "drills", "list").stdout.splitlines()
    assert "TRA/idras" in table[1] and "MOH/dhis2" in table[3]


def test_history_oldest_first_reverses_the_trend(cli, clock):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    for state in ("OK", "WARNING", "CRITICAL"):
        record(cli, "RITA/crvs", state, [{"check": "replication", "state": state, "reason": state}])
        clock.advance(hours=1)
    assert [h["status"] for h in cli("dr", "history", "RITA/crvs", "-o", "json").json()] == [
        "CRITICAL", "WARNING", "OK"]
    r = cli("dr", "history", "RITA/crvs", "--oldest-first", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [h["status"] for h in r.json()] == ["OK", "WARNING", "CRITICAL"]
    first_page = cli("dr", "history", "RITA/crvs", "--oldest-first", "--limit", "2", "-o", "json").json()
    assert [h["status"] for h in first_page] == ["OK", "WARNING"]


def test_a_time_sent_with_an_offset_is_answered_in_utc_as_every_later_read(cli, backend, clock):
    # The row written is UTC; the answer to the write used to echo the client's +03:00.
    import json

    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    at = (clock.now - dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=3)))
    r = cli("api", "POST", "/api/v1/dr/systems/RITA/crvs/drills", "-f", f"started_at={at.isoformat()}")
    assert r.exit_code == 0, r.stderr
    expected = (clock.now - dt.timedelta(hours=1)).astimezone(dt.timezone.utc).isoformat()
    assert json.loads(r.stdout)["started_at"] == expected
    shown = json.loads(cli("dr", "drills", "list", "RITA/crvs", "-o", "json").stdout)
    assert [d["started_at"] for d in shown] == [expected]
