"""dr check against real endpoints on loopback: HTTP and HTTPS servers with trustme
certificates (valid, expiring in 5 days, expired, wrong hostname), a port that
refuses and one that accepts and never answers. Verdicts as a user sees them
(-o json) and as the backend stored them."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
import trustme
from sqlalchemy import select

from fakesites import FakeSites, health
from egactl_dr.server.models import DrCheckResult, DrCheckRun

NOW = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731 - the endpoints' clock is the real one


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def sites():
    with FakeSites() as s:
        yield s


@pytest.fixture
def ca_file(ca, tmp_path):
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_tls(ca, *names, **kwargs) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1",)), **kwargs).configure_cert(ctx)
    return ctx


def add(cli, ref, primary, dr=None, *extra, role="admin"):
    args = ["dr", "systems", "create", ref, "--hosting", "gdc-dodoma", "--primary", primary, "--rpo", "15m", "--rto", "4h"]
    if dr:
        args += ["--dr", dr, "--dr-hosting", "gdc-dar"]
    r = cli(*args, *extra, "-o", "json", role=role)
    assert r.exit_code == 0, r.stderr
    return r.json()


def check(cli, *args, role="admin", expect=0):
    r = cli("dr", "check", *args, "-o", "json", role=role)
    assert r.exit_code == expect, r.stderr
    return {res["system"]: {c["check"]: c for c in res["checks"]} | {"status": res["status"]} for res in r.json()}


def passed_drill(cli, ref):
    assert cli("dr", "drills", "start", ref).exit_code == 0
    r = cli("dr", "drills", "finish", ref, "--data-loss", "0")
    assert r.exit_code == 0, r.stderr


HEALTH = ("--version-from", "json:version", "--replicated-from", "json:replication.last_replicated_at",
          "--backup-from", "json:backup.last_success")


def test_a_ready_system_is_ok_on_every_check_and_stored(cli, backend, sites, ca, ca_file):
    body = health("2.4.1", replicated_ago=dt.timedelta(minutes=2), backup_ago=dt.timedelta(hours=3))
    primary = sites.http(body, tls=server_tls(ca))
    dr = sites.http(body, tls=server_tls(ca))
    add(cli, "RITA/crvs", primary, dr, *HEALTH, "--ca-bundle", str(ca_file))
    passed_drill(cli, "RITA/crvs")

    result = check(cli, "--system", "RITA/crvs", "--timeout", "3")["RITA/crvs"]

    assert result["status"] == "OK", result
    assert {k for k in result if k != "status"} == {
        "primary.dns", "primary.reachability", "primary.tls", "dr.dns", "dr.reachability", "dr.tls",
        "version", "replication", "backup", "drill", "hosting"}
    assert result["primary.tls"]["reason"].startswith("chain verifies for 127.0.0.1")
    assert result["version"]["reason"] == "both sites run 2.4.1"
    assert result["replication"]["reason"] == "last replicated 2 min ago (RPO 15 min)"
    assert result["primary.reachability"]["metrics"]["time"] >= 0
    with backend.read_sessions() as s:
        run = s.scalars(select(DrCheckRun)).one()
        stored = s.scalars(select(DrCheckResult)).one()
    assert (run.status, run.role, run.deadline_exceeded) == ("OK", "admin", False)
    assert stored.status == "OK" and {c["check"] for c in stored.checks} >= {"dr.tls", "replication"}


def test_certificates_valid_expiring_expired_and_wrong_host(cli, sites, ca, ca_file):
    now = NOW()
    valid = sites.http(tls=server_tls(ca))
    expiring = sites.http(tls=server_tls(ca, not_after=now + dt.timedelta(days=5)))
    expired = sites.http(tls=server_tls(ca, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=2)))
    wrong_host = sites.http(tls=server_tls(ca, "wrong.example"))
    for name, url in (("valid", valid), ("expiring", expiring), ("expired", expired), ("wronghost", wrong_host)):
        add(cli, f"RITA/{name}", url)

    results = check(cli, "--institution", "RITA", "--timeout", "3", "--ca-bundle", str(ca_file))

    assert results["RITA/valid"]["primary.tls"]["state"] == "OK"
    assert results["RITA/valid"]["primary.reachability"]["state"] == "OK"
    soon = results["RITA/expiring"]["primary.tls"]
    assert soon["state"] == "CRITICAL"  # 5 days < the default critical threshold of 7
    assert "expires in 5 days" in soon["reason"] and "critical below 7 days" in soon["reason"]
    assert 4.9 < soon["metrics"]["cert_days"] <= 5
    gone = results["RITA/expired"]["primary.tls"]
    assert gone["state"] == "CRITICAL" and gone["reason"].startswith("certificate expired 2 days ago")
    assert gone["metrics"]["cert_days"] < -1.9
    # An HTTPS request that verification refuses is not an answer a client can use.
    assert results["RITA/expired"]["primary.reachability"]["state"] == "CRITICAL"
    assert "certificate verification" in results["RITA/expired"]["primary.reachability"]["reason"]
    host = results["RITA/wronghost"]["primary.tls"]
    assert host["state"] == "CRITICAL"
    assert host["reason"] == "certificate is not valid for '127.0.0.1' (it is for: wrong.example)"


def test_thresholds_are_per_system(cli, sites, ca, ca_file):
    url = sites.http(tls=server_tls(ca, not_after=NOW() + dt.timedelta(days=5)))
    add(cli, "RITA/lenient", url, None, "--threshold", "cert_warn_days=10", "--threshold", "cert_crit_days=3",
        "--ca-bundle", str(ca_file))
    tls = check(cli, "--system", "RITA/lenient", "--timeout", "3")["RITA/lenient"]["primary.tls"]
    assert tls["state"] == "WARNING" and "warning below 10 days" in tls["reason"]


def test_private_ca_must_be_trusted_explicitly(cli, sites, ca, ca_file):
    url = sites.http(tls=server_tls(ca))
    add(cli, "RITA/private", url)
    untrusted = check(cli, "--system", "RITA/private", "--timeout", "3")["RITA/private"]["primary.tls"]
    assert untrusted["state"] == "CRITICAL"
    assert "unable to get local issuer certificate" in untrusted["reason"] and "--ca-bundle" in untrusted["reason"]
    # The system's own CA bundle, stored in the inventory, makes any machine running the check trust it.
    assert cli("dr", "systems", "update", "RITA/private", "--ca-bundle", str(ca_file)).exit_code == 0
    assert check(cli, "--system", "RITA/private", "--timeout", "3")["RITA/private"]["primary.tls"]["state"] == "OK"


def test_refused_and_hanging_sites_each_cost_their_timeout(cli, backend, sites, ca):
    refused = f"http://127.0.0.1:{sites.refused()}/health"
    hanging = f"https://127.0.0.1:{sites.hanging()}/health"
    add(cli, "RITA/down", refused, hanging, "--version-from", "json:version")

    result = check(cli, "--system", "RITA/down", "--timeout", "0.5", "--deadline", "20")["RITA/down"]

    assert result["primary.reachability"] == {**result["primary.reachability"], "state": "CRITICAL",
                                              "reason": "connection refused"}
    assert result["dr.reachability"]["state"] == "CRITICAL"
    assert result["dr.reachability"]["reason"] == "no answer within 0.5 s"
    assert result["dr.tls"]["state"] == "UNKNOWN" and result["dr.tls"]["reason"] == "not checked: no answer within 0.5 s"
    assert result["version"]["state"] == "UNKNOWN" and "did not answer (connection refused)" in result["version"]["reason"]
    assert not any("deadline" in c["reason"] for k, c in result.items() if k != "status")


def test_many_hanging_sites_cost_one_timeout_not_the_sum(cli, backend, sites):
    """12 systems, 24 sites that never answer, 0.5 s each: probed one after another they
    would need 12 s; the 5 s deadline passes only if they are not probed concurrently."""
    port = sites.hanging()
    for i in range(12):
        add(cli, f"TRA/hang{i}", f"http://127.0.0.1:{port}/a", f"tcp://127.0.0.1:{port}")

    results = check(cli, "--institution", "TRA", "--timeout", "0.5", "--deadline", "5")

    assert len(results) == 12
    for result in results.values():
        assert result["primary.reachability"]["reason"] == "no answer within 0.5 s"
        # A TCP connect to a port that accepts succeeds even if nothing is ever said.
        assert result["dr.reachability"]["state"] == "OK"
    with backend.read_sessions() as s:
        assert s.scalars(select(DrCheckRun.deadline_exceeded)).one() is False


def test_dns_and_plain_tcp(cli, sites):
    port = int(sites.http().rsplit(":", 1)[1].split("/")[0])
    add(cli, "NIDA/ldap", f"localhost:{port}", f"tcp://nowhere.invalid:{port}")
    result = check(cli, "--system", "NIDA/ldap", "--timeout", "3")["NIDA/ldap"]
    assert result["primary.dns"]["state"] == "OK" and "localhost resolves to" in result["primary.dns"]["reason"]
    assert result["primary.reachability"]["state"] == "OK"
    assert result["primary.reachability"]["reason"].startswith("TCP connect in")
    assert "primary.tls" not in result  # plain TCP: nothing to verify
    assert result["dr.dns"]["state"] == "CRITICAL"
    assert "does not resolve" in result["dr.dns"]["reason"] or "no DNS answer" in result["dr.dns"]["reason"]
    assert result["version"]["state"] == "UNKNOWN"


def test_version_mismatch(cli, sites):
    primary = sites.http(health("2.4.1"))
    dr = sites.http(health("2.3.0"))
    add(cli, "TRA/idras", primary, dr, "--version-from", "json:version")
    version = check(cli, "--system", "TRA/idras", "--timeout", "3")["TRA/idras"]["version"]
    assert version == {**version, "state": "CRITICAL", "reason": "the DR site runs 2.3.0, the primary runs 2.4.1"}
    cli("dr", "systems", "update", "TRA/idras", "--threshold", "version_mismatch=warning")
    assert check(cli, "--system", "TRA/idras", "--timeout", "3")["TRA/idras"]["version"]["state"] == "WARNING"


def test_version_from_a_header(cli, sites):
    primary = sites.http(headers={"X-App-Version": "5.1"})
    dr = sites.http(headers={"X-App-Version": "5.1"})
    add(cli, "TRA/portal", primary, dr, "--version-from", "header:X-App-Version")
    assert check(cli, "--system", "TRA/portal", "--timeout", "3")["TRA/portal"]["version"]["reason"] == "both sites run 5.1"


def test_replication_older_than_rpo_is_critical_and_near_it_a_warning(cli, sites):
    primary = sites.http(health("1.0"))
    stale = sites.http(health("1.0", replicated_ago=dt.timedelta(minutes=47)))
    near = sites.http(health("1.0", replicated_ago=dt.timedelta(minutes=13)))
    add(cli, "RITA/stale", primary, stale, *HEALTH)
    add(cli, "RITA/near", primary, near, *HEALTH)
    results = check(cli, "--institution", "RITA", "--timeout", "3")
    stale_r, near_r = results["RITA/stale"]["replication"], results["RITA/near"]["replication"]
    assert stale_r["state"] == "CRITICAL"
    assert stale_r["reason"] == "last replicated 47 min ago, beyond the RPO of 15 min"
    assert 47 * 60 <= stale_r["metrics"]["replication_lag"] < 48 * 60
    assert near_r["state"] == "WARNING" and near_r["reason"].endswith("87% of the RPO of 15 min")


def test_stale_backup_from_a_separate_backup_endpoint(cli, sites):
    site = sites.http(health("1.0"))
    backups = sites.http(headers={"X-Last-Backup": (NOW() - dt.timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S GMT")})
    add(cli, "MOH/dhis2", site, site, "--backup-from", "header:X-Last-Backup", "--backup-url", backups)
    backup = check(cli, "--system", "MOH/dhis2", "--timeout", "3")["MOH/dhis2"]["backup"]
    assert backup["state"] == "CRITICAL"
    assert backup["reason"] == "last backup 3 d ago, beyond 48 h"


def test_overdue_drill_by_the_backend_clock(cli, clock, sites):
    site = sites.http()
    add(cli, "UDOM/aris", site, site)
    assert check(cli, "--system", "UDOM/aris")["UDOM/aris"]["drill"]["reason"] == "no successful failover drill on record"
    passed_drill(cli, "UDOM/aris")
    clock.advance(days=340)
    drill = check(cli, "--system", "UDOM/aris")["UDOM/aris"]["drill"]
    assert drill["state"] == "WARNING" and "due within 25 days" in drill["reason"]
    clock.advance(days=60)
    drill = check(cli, "--system", "UDOM/aris")["UDOM/aris"]["drill"]
    assert drill["state"] == "CRITICAL"
    assert drill["reason"] == "last successful drill 400 days ago (2026-11-22 12:00 EAT); due every 365 days"


def test_unapproved_hosting_and_no_dr_site(cli, sites):
    site = sites.http()
    r = cli("dr", "systems", "create", "MOH/his", "--hosting", "moh-server-room", "--primary", site, "--rpo", "1d",
            "--rto", "2d")
    assert r.exit_code == 0, r.stderr
    assert "not an approved one" in r.stderr and "has no DR site" in r.stderr
    result = check(cli, "--system", "MOH/his")["MOH/his"]
    assert result["dr.site"] == {**result["dr.site"], "state": "CRITICAL", "reason": "no DR site registered"}
    assert result["hosting"]["state"] == "CRITICAL"
    assert "'moh-server-room', not an approved hosting environment" in result["hosting"]["reason"]


def test_table_output_groups_by_system_and_history_shows_the_trend(cli, sites):
    site = sites.http(health("1.0"))
    add(cli, "RITA/crvs", site, site, "--version-from", "json:version")
    r = cli("dr", "check", "--system", "RITA/crvs")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("RITA/crvs  CRITICAL")  # no drill on record
    assert "version" in r.stdout and "both sites run 1.0" in r.stdout
    assert "1 system(s) checked" in r.stderr and "recorded as check run" in r.stderr
    cli("dr", "check", "--system", "RITA/crvs", "--no-record")
    history = cli("dr", "history", "RITA/crvs", "-o", "json")
    assert history.exit_code == 0, history.stderr
    assert len(history.json()) == 1  # --no-record stored nothing
    assert history.json()[0]["status"] == "CRITICAL" and history.json()[0]["counts"]["CRITICAL"] == 1
    csv = cli("dr", "check", "--system", "RITA/crvs", "-o", "csv", "--no-record")
    assert csv.stdout.splitlines()[0] == "system,status,check,state,reason"
    assert "RITA/crvs,CRITICAL,drill,CRITICAL,no successful failover drill on record" in csv.stdout


def test_fail_on_gives_scripts_an_exit_code(cli, sites):
    site = sites.http()
    add(cli, "RITA/crvs", site, site)
    assert cli("dr", "check", "--system", "RITA/crvs", "-o", "json", "--no-record").exit_code == 0
    assert cli("dr", "check", "--system", "RITA/crvs", "-o", "json", "--no-record", "--fail-on", "critical").exit_code == 1


def test_helpdesk_checks_are_recorded_and_operators_check_only_their_own(cli, backend, sites):
    site = sites.http()
    add(cli, "RITA/crvs", site, site)
    add(cli, "TRA/idras", site, site)
    assert check(cli, "--system", "RITA/crvs", role="helpdesk")["RITA/crvs"]["primary.reachability"]["state"] == "OK"
    with backend.read_sessions() as s:
        run = s.scalars(select(DrCheckRun)).one()
    assert (run.role, run.actor) == ("helpdesk", "helpdesk@ega.go.tz")
    denied = cli("dr", "check", "--system", "TRA/idras", role="operator")
    assert denied.exit_code == 4 and "may not read" in denied.stderr
    assert check(cli, "--all", role="operator").keys() == {"RITA/crvs"}


def test_nothing_selected_is_a_usage_error(cli):
    r = cli("dr", "check")
    assert r.exit_code == 2 and "--all" in r.stderr
    r = cli("dr", "check", "--institution", "EGA", "-o", "json")
    assert r.exit_code == 0 and r.json() == []


def test_health_answers_in_every_shape_http_allows(cli, sites):
    chunked = sites.http(raw_response=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
                                      b"\r\na\r\n{\"version\"\r\n8;ext=1\r\n: \"9.9\"}\r\n0\r\n\r\n")
    until_close = sites.http(raw_response=b"HTTP/1.0 200 OK\r\nX-Version: 9.9\r\n\r\n{\"version\": \"9.9\"}")
    add(cli, "EGA/shapes", chunked, until_close, "--version-from", "json:version")
    broken = sites.http(raw_response=b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    failing = sites.http(raw_response=b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
    add(cli, "EGA/broken", broken, failing, "--version-from", "json:version")

    results = check(cli, "--institution", "EGA", "--timeout", "3")

    assert results["EGA/shapes"]["version"]["reason"] == "both sites run 9.9"
    assert results["EGA/broken"]["primary.reachability"]["state"] == "CRITICAL"
    assert results["EGA/broken"]["primary.reachability"]["reason"].startswith("not an HTTP response ('SSH-2.0")
    assert results["EGA/broken"]["dr.reachability"]["state"] == "CRITICAL"
    assert results["EGA/broken"]["dr.reachability"]["reason"].startswith("HTTP 503 in")
    assert results["EGA/broken"]["version"]["reason"].endswith("the primary site did not answer "
                                                               "(not an HTTP response ('SSH-2.0-OpenSSH_9.2'))")


def test_tls_only_endpoints_are_handshaken_and_verified(cli, sites, ca, ca_file):
    good = sites.http(tls=server_tls(ca)).replace("https://", "tls://").removesuffix("/health")
    wrong = sites.http(tls=server_tls(ca, "ldap.nida.go.tz")).replace("https://", "tls://").removesuffix("/health")
    add(cli, "NIDA/ldap", good, wrong, "--ca-bundle", str(ca_file))
    result = check(cli, "--system", "NIDA/ldap", "--timeout", "3")["NIDA/ldap"]
    assert result["primary.reachability"]["reason"].startswith("TLS handshake in")
    assert result["primary.tls"]["state"] == "OK"
    assert result["dr.reachability"] == {**result["dr.reachability"], "state": "CRITICAL",
                                         "reason": "TLS refused by certificate verification (see dr.tls)"}
    assert result["dr.tls"]["reason"] == "certificate is not valid for '127.0.0.1' (it is for: ldap.nida.go.tz)"


def test_dry_run_names_the_sites_and_touches_none(cli, backend, sites):
    site = sites.http()
    add(cli, "RITA/crvs", site, site)
    r = cli("dr", "check", "--system", "RITA/crvs", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "would probe 2 site(s) of 1 system(s) and record the results" in r.stderr
    assert "RITA/crvs" in r.stdout and site in r.stdout
    assert sites.requests == 0
    with backend.read_sessions() as s:
        assert s.scalars(select(DrCheckRun)).all() == []
