"""egactl find in the DR inventory: a host name or URL → the system with an endpoint there
(primary or DR site) and its last check; scoped to the caller's institutions; the host
read from an index kept in step with every write of an endpoint (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import create_engine, select, text

from egactl.plugin.testing import query_plans
from egactl_dr.server.models import DrSystem

CRVS = ("--criticality", "critical", "--hosting", "gdc-dodoma", "--dr-hosting", "gdc-dar",
        "--primary", "https://crvs.rita.go.tz/health", "--dr", "https://CRVS-DR.rita.go.tz/health",
        "--rpo", "15m", "--rto", "4h")
IDRAS = ("--criticality", "high", "--hosting", "gdc-dar", "--primary", "tls://10.30.0.17:8443", "--rpo", "30m",
         "--rto", "8h")


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def two_systems(cli):
    ok(cli("dr", "systems", "create", "RITA/crvs", *CRVS))
    ok(cli("dr", "systems", "create", "TRA/idras", *IDRAS))


@pytest.fixture
def systems(cli):
    two_systems(cli)


def post(cli, institution, name, status, checks, role="admin"):
    body = {"started_at": "2026-11-22T08:59:00+00:00", "finished_at": "2026-11-22T08:59:02+00:00",
            "results": [{"institution": institution, "name": name, "status": status, "checks": checks}]}
    return ok(cli("api", "POST", "/api/v1/dr/checks", "--input", "-", role=role, input=json.dumps(body))).json()


def found(cli, term, role="admin"):
    r = cli("find", term, "--service", "dr", "-o", "json", role=role)
    assert r.exit_code in (0, 3), (term, r.stderr)
    return [] if r.exit_code == 3 else r.json()


@pytest.mark.parametrize("term, site", [
    ("crvs.rita.go.tz", "primary site https://crvs.rita.go.tz/health"),
    ("CRVS.Rita.go.tz", "primary site https://crvs.rita.go.tz/health"),
    ("https://crvs.rita.go.tz/anything?x=1", "primary site https://crvs.rita.go.tz/health"),
    ("crvs-dr.rita.go.tz", "DR site https://crvs-dr.rita.go.tz/health"),
    ("https://crvs-dr.rita.go.tz:443/health", "DR site https://crvs-dr.rita.go.tz/health"),
])
def test_a_host_or_url_names_the_system_and_which_site(cli, systems, term, site):
    [item] = found(cli, term)
    assert item == {"service": "dr", "kind": "system", "reference": "RITA/crvs", "institution": "RITA", "rank": 100,
                    "summary": f"{site} · critical · never checked", "command": "egactl dr systems show RITA/crvs"}
    assert ok(cli(*item["command"].split()[1:], "-o", "json")).json()["system"] == "RITA/crvs"


def test_an_endpoint_on_an_address_is_found_by_the_address(cli, systems):
    [item] = found(cli, "10.30.0.17")
    assert (item["reference"], item["summary"]) == ("TRA/idras", "primary site tls://10.30.0.17:8443 · high · never checked")
    assert found(cli, "10.30.0.18") == [] and found(cli, "10.30.0.0/16") == []


@pytest.mark.parametrize("term", ["rita.go.tz", "crvs", "tra.go.tz", "https://nothing.example/"])
def test_other_hosts_find_nothing(cli, systems, term):
    assert found(cli, term) == []


def test_the_last_check_says_state_when_and_what_was_not_ok_at_that_site(cli, clock, systems):
    checks = [{"check": "primary.reachability", "state": "OK", "reason": "200 in 40 ms"},
              {"check": "dr.tls", "state": "CRITICAL", "reason": "certificate expired 2 days ago"},
              {"check": "dr.reachability", "state": "WARNING", "reason": "slow: 3.2 s"},
              {"check": "version", "state": "WARNING", "reason": "the DR site runs 1.1, the primary 1.2"}]
    post(cli, "RITA", "crvs", "CRITICAL", checks)
    assert clock.now == dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone.utc)
    at = "2026-11-22 12:00 EAT"  # times for people are East Africa Time, as the CLI shows them
    assert found(cli, "crvs-dr.rita.go.tz")[0]["summary"] == (
        f"DR site https://crvs-dr.rita.go.tz/health · critical · last check CRITICAL at {at} "
        f"(dr.tls CRITICAL, dr.reachability WARNING)")
    assert found(cli, "crvs.rita.go.tz")[0]["summary"] == (
        f"primary site https://crvs.rita.go.tz/health · critical · last check CRITICAL at {at}")
    # the help desk's later observation is told apart, as dr systems show and the report do
    clock.advance(hours=2)
    post(cli, "RITA", "crvs", "OK", checks[:1], role="helpdesk")
    later = "2026-11-22 14:00 EAT"
    assert found(cli, "crvs.rita.go.tz", role="helpdesk")[0]["summary"].endswith(
        f"last check CRITICAL at {at}; unverified OK at {later}")


def test_an_operator_finds_only_its_institutions_systems(cli, systems):
    assert [f["reference"] for f in found(cli, "crvs.rita.go.tz", role="operator")] == ["RITA/crvs"]
    assert found(cli, "10.30.0.17", role="operator") == []
    assert [f["reference"] for f in found(cli, "10.30.0.17", role="operator_tra")] == ["TRA/idras"]
    assert found(cli, "crvs.rita.go.tz", role="operator_tra") == []
    assert [f["reference"] for f in found(cli, "crvs.rita.go.tz", role="helpdesk")] == ["RITA/crvs"]


def hosts(backend, institution, name):
    with backend.read_sessions() as s:
        return s.execute(select(DrSystem.primary_host, DrSystem.dr_host)
                         .where(DrSystem.institution == institution, DrSystem.name == name)).one()


def test_the_hosts_follow_every_write_of_an_endpoint(cli, backend, systems):
    assert hosts(backend, "RITA", "crvs") == ("crvs.rita.go.tz", "crvs-dr.rita.go.tz")
    ok(cli("dr", "systems", "update", "RITA/crvs", "--dr", "https://crvs-dr2.rita.go.tz/health",
           "--primary", "https://crvs.rita.go.tz:8443/health"))
    assert hosts(backend, "RITA", "crvs") == ("crvs.rita.go.tz", "crvs-dr2.rita.go.tz")
    assert found(cli, "crvs-dr.rita.go.tz") == []
    assert found(cli, "crvs-dr2.rita.go.tz")[0]["summary"].startswith("DR site https://crvs-dr2.rita.go.tz/health")
    ok(cli("dr", "systems", "update", "RITA/crvs", "--clear", "dr_endpoint"))  # no DR site any more
    assert hosts(backend, "RITA", "crvs") == ("crvs.rita.go.tz", None)
    assert found(cli, "crvs-dr2.rita.go.tz") == []
    ok(cli("dr", "systems", "delete", "RITA/crvs", "--yes"))
    assert found(cli, "crvs.rita.go.tz") == []


def test_the_revision_fills_the_hosts_of_existing_systems(tmp_path):
    from egactl.server.app import components_of, load_parts
    from egactl.server.schema import upgrade_to

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    comps = {c.name: c for c in components_of(load_parts(["dr"]))}
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
    with engine.begin() as conn:
        upgrade_to(conn, comps["core"])
        upgrade_to(conn, comps["dr"], "0002")
        conn.execute(text("INSERT INTO core_institutions (code, name, kind, version, created_at, updated_at) "
                          "VALUES ('RITA', 'RITA', 'agency', 1, :t, :t)"), {"t": now})
        for name, primary, dr in (("crvs", "https://CRVS.rita.go.tz/health", "https://crvs-dr.rita.go.tz/h"),
                                  ("db", "tcp://10.1.2.3:5432", None)):
            conn.execute(text("INSERT INTO dr_systems (institution, name, criticality, hosting, primary_endpoint, "
                              "dr_endpoint, rpo_minutes, rto_minutes, thresholds, version, created_at, updated_at) "
                              "VALUES ('RITA', :n, 'high', 'gdc-dar', :p, :d, 15, 60, '{}', 1, :t, :t)"),
                         {"n": name, "p": primary, "d": dr, "t": now})
    with engine.begin() as conn:
        upgrade_to(conn, comps["dr"])
        rows = conn.execute(text("SELECT name, primary_host, dr_host FROM dr_systems ORDER BY name")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("crvs", "crvs.rita.go.tz", "crvs-dr.rita.go.tz"), ("db", "10.1.2.3", None)]


LOOKUPS = {"primary": ("crvs.rita.go.tz", "ix_dr_systems_primary_host"),
           "dr": ("crvs-dr.rita.go.tz", "ix_dr_systems_dr_host")}


@pytest.mark.parametrize("role", ["admin", "operator"])
@pytest.mark.parametrize("lookup", LOOKUPS, ids=str)
def test_a_host_is_read_from_an_index_on_sqlite(cli, backend, systems, lookup, role):
    term, index = LOOKUPS[lookup]
    plans = query_plans(backend.engine, "dr_systems", lambda: found(cli, term, role=role))
    assert len(plans) == 2, plans  # the primary hosts, then the DR hosts
    assert any(index in p for p in plans), plans
    for plan in plans:
        assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("lookup", LOOKUPS, ids=str)
def test_a_host_is_read_from_an_index_on_postgresql(postgres_url, lookup):
    from tests.conftest import cli_on

    term, index = LOOKUPS[lookup]
    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        two_systems(cli)
        for role in ("admin", "operator"):
            plans = query_plans(be.engine, "dr_systems", lambda: found(cli, term, role=role))
            assert any(index in p for p in plans), plans
            for plan in plans:
                assert "Seq Scan" not in plan and "Sort" not in plan, plan
