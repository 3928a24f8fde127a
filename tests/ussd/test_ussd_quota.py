"""ussd: one institution may hold only so many codes (reserved + assigned), so no
operator can take the national range; e-GA grants more per institution, audited."""

from __future__ import annotations

import json

import pytest
from conftest import start_server
from sqlalchemy import func, select

from egactl.server.db import make_engine
from egactl.server.models import AuditEntry
from egactl_ussd.server.models import UssdCode

ASSIGN = ("--service", "Huduma", "--purpose", "Citizen services", "--callback-url", "https://ussd.example.go.tz/u")


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def reserve(cli, institution="RITA", *extra, role="admin"):
    return cli("ussd", "reserve", "-i", institution, "--reference", f"{institution}/ICT/1", *extra, role=role)


def held(backend, institution="RITA"):
    with backend.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(UssdCode).where(
            UssdCode.institution == institution, UssdCode.state.in_(("reserved", "assigned", "suspended"))))


def test_the_default_quota_is_three_and_the_fourth_is_refused(cli, backend):
    ok(reserve(cli, role="operator"))
    ok(cli("ussd", "assign", "-i", "RITA", *ASSIGN, role="operator"))
    ok(reserve(cli, role="operator"))
    for attempt in (reserve(cli, role="operator"), cli("ussd", "assign", "-i", "RITA", *ASSIGN, role="operator"),
                    cli("ussd", "assign", "-i", "RITA", "--code", "50", *ASSIGN, role="operator")):
        assert attempt.exit_code == 5, attempt.stderr
        assert attempt.stderr.strip().splitlines() == [
            "error: RITA already holds 3 USSD codes (reserved or assigned); the default quota is 3: release one, "
            "or ask e-GA to raise it (egactl ussd quota set RITA N)"]
        assert attempt.stdout == ""
    assert held(backend) == 3
    with backend.read_sessions() as s:
        assert s.get(UssdCode, 50).state == "available"
    # Other institutions are not affected, and --dry-run says the same as the real thing.
    ok(reserve(cli, "TRA", role="operator_tra"))
    r = reserve(cli, "RITA", "--dry-run")
    assert r.exit_code == 5 and "its quota is 3" in r.stderr


def test_assigning_a_reservation_at_the_edge_is_not_one_more(cli, backend):
    for n in ("1", "2", "3"):
        ok(reserve(cli, "RITA", "--code", n))
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "2", *ASSIGN))   # its own reservation: still 3
    ok(cli("ussd", "suspend", "2", "--reason", "maintenance", "--yes"))
    assert reserve(cli).exit_code == 5                                # a suspended code still counts
    ok(cli("ussd", "release", "1", "--reason", "application refused", "--yes"))
    ok(reserve(cli))                                                  # a release makes room
    assert held(backend) == 3


def test_json_error_names_the_limit(cli):
    for _ in range(3):
        ok(reserve(cli))
    r = reserve(cli, "RITA", "-o", "json")
    assert r.exit_code == 5
    problem = json.loads(r.stderr)["problem"]
    assert problem["status"] == 409 and problem["quota"] == 3 and problem["held"] == 3


def test_admins_grant_more_audited_and_show_it(cli, backend):
    from egactl_ussd.server.models import UssdQuota

    for _ in range(3):
        ok(reserve(cli))
    r = ok(cli("ussd", "quota", "set", "RITA", "5", "--reason", "RITA runs five services (letter EGA/2026/77)"))
    assert "RITA may hold 5 codes; it holds 3" in r.stderr
    ok(reserve(cli))
    ok(reserve(cli))
    r = reserve(cli)
    assert r.exit_code == 5 and "its quota granted by e-GA is 5" in r.stderr

    shown = ok(cli("ussd", "quota", "show", "rita", "-o", "json")).json()
    assert {k: shown[k] for k in ("institution", "quota", "default_quota", "granted", "held", "free")} == {
        "institution": "RITA", "quota": 5, "default_quota": 3, "granted": True, "held": 5, "free": 0}
    assert shown["set_by"] == "admin@ega.go.tz"
    listed = ok(cli("ussd", "quota", "list"))
    assert "RITA" in listed.stdout and "TRA" not in listed.stdout and listed.stderr == ""
    # The listing's old spelling (`quota show` without an institution) still works, and says so.
    old = ok(cli("ussd", "quota", "show"))
    assert old.stdout == listed.stdout
    assert "`egactl ussd quota show` without an institution is now `egactl ussd quota list`" in old.stderr
    with backend.read_sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.resource_type == "ussd_quota")).one()
        assert (entry.action, entry.resource_id, entry.actor) == ("quota-set", "RITA", "admin@ega.go.tz")
        assert entry.before["quota"] == 3 and entry.after["quota"] == 5
        assert entry.reason == "RITA runs five services (letter EGA/2026/77)"

    # Back to the default: RITA keeps its codes but takes no new one.
    r = ok(cli("ussd", "quota", "set", "RITA", "default", "--reason", "services merged"))
    assert "RITA may hold 3 codes (the default quota); it holds 5" in r.stderr and "holds more than that" in r.stderr
    with backend.read_sessions() as s:
        assert s.get(UssdQuota, "RITA") is None
    assert reserve(cli).exit_code == 5


def test_only_admins_set_quotas_and_operators_see_their_own(cli, backend):
    from egactl_ussd.server.models import UssdQuota

    for role in ("operator", "helpdesk"):
        r = cli("ussd", "quota", "set", "RITA", "50", "--reason", "we need them", role=role)
        assert r.exit_code == 4, r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(UssdQuota)) == 0
    assert ok(cli("ussd", "quota", "show", "RITA", "-o", "json", role="operator")).json()["quota"] == 3
    assert cli("ussd", "quota", "show", "TRA", role="operator").exit_code == 4
    assert ok(cli("ussd", "quota", "show", "TRA", "-o", "json", role="helpdesk")).json()["held"] == 0


def test_bad_quota_input_is_exit_2_and_unknown_institution_3(cli):
    assert cli("ussd", "quota", "set", "RITA", "-1", "--reason", "because").exit_code == 2
    for value in ("100", "many", "2.5"):
        r = cli("ussd", "quota", "set", "RITA", value, "--reason", "because")
        assert r.exit_code == 2 and "from 0 to 99" in r.stderr, (value, r.stderr)
    assert cli("ussd", "quota", "set", "NOPE", "5", "--reason", "because").exit_code == 3
    assert cli("ussd", "quota", "set", "RITA", "5", "--reason", "x").exit_code == 2
    r = cli("ussd", "quota", "set", "RITA", "5", "--reason", "because", "--dry-run")
    assert r.exit_code == 0 and "would set the quota of RITA from 3 to 5" in r.stderr
    assert cli("ussd", "quota", "show", "RITA", "-o", "json").json()["granted"] is False


class TestDefaultFromTheSettings:
    @pytest.fixture
    def backend_settings(self):
        return {"ussd.quota": 1}

    def test_the_server_setting_sets_the_default(self, cli):
        ok(reserve(cli))
        r = reserve(cli)
        assert r.exit_code == 5 and "the default quota is 1" in r.stderr


# -- the edge, raced -----------------------------------------------------------------------

CLIENTS = 10


def race_at_the_edge(server) -> None:
    r = server.run("institutions", "create", "RITA", "--name", "RITA", "--kind", "agency")
    assert r.returncode == 0, r.stderr
    for _ in range(2):  # RITA holds 2 of its 3
        r = server.run("ussd", "reserve", "-i", "RITA", "--reference", "RITA/1")
        assert r.returncode == 0, r.stderr
    procs = [server.popen("ussd", "reserve", "-i", "RITA", "--reference", f"RITA/{i}") for i in range(CLIENTS)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        results.append((p.returncode, err))
    assert sorted(rc for rc, _ in results) == [0] + [5] * (CLIENTS - 1), results
    assert all("the default quota is 3" in err for rc, err in results if rc == 5)
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(UssdCode).where(
                UssdCode.institution == "RITA", UssdCode.state.in_(("reserved", "assigned")))).scalar()
    finally:
        engine.dispose()
    assert count == 3


def test_ten_at_the_edge_on_sqlite(served):
    race_at_the_edge(served)


def test_ten_at_the_edge_on_postgresql(tmp_path, postgres_url):
    server = start_server(tmp_path, postgres_url)
    try:
        race_at_the_edge(server)
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
