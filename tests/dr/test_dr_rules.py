"""The dr plugin's pure parts: the shared rules and the verdicts' edge cases."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egactl_dr import rules as v
from egactl.plugin.cli import certificates
from egactl_dr.commands.check.probes import Failure, ReachObservation, SiteObservation, TlsObservation
from egactl_dr.commands.check.verdicts import (Observed, drill_check, evaluate, hosting_check, parse_timestamp,
                                               read_field, replication_check, tls_check)

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("raw, url, scheme, port", [
    ("https://CRVS.rita.go.tz/health", "https://crvs.rita.go.tz/health", "https", 443),
    ("http://10.0.0.5:8080", "http://10.0.0.5:8080/", "http", 8080),
    ("db.nida.go.tz:5432", "tcp://db.nida.go.tz:5432", "tcp", 5432),
    ("tls://ldap.ega.go.tz:636", "tls://ldap.ega.go.tz:636", "tls", 636),
    ("tcp://[2001:db8::1]:443", "tcp://[2001:db8::1]:443", "tcp", 443),
])
def test_endpoints_parse_to_one_canonical_form(raw, url, scheme, port):
    ep = v.parse_endpoint(raw)
    assert (ep.url, ep.scheme, ep.port) == (url, scheme, port)
    assert v.parse_endpoint(ep.url) == ep  # canonical is a fixed point


@pytest.mark.parametrize("raw, message", [
    ("", "empty"), ("ftp://x.go.tz", "scheme"), ("x.go.tz", "needs a port"), ("tls://x.go.tz:636/path", "no path"),
    ("https://user:pw@x.go.tz/", "credentials"), ("https://bad_host!/", "not a host name"), ("tcp://x:99999", "not a URL"),
])
def test_bad_endpoints_say_why(raw, message):
    with pytest.raises(v.RuleError, match=message):
        v.parse_endpoint(raw)


def test_field_sources_and_system_refs():
    assert str(v.parse_field_source(" JSON: build.version ")) == "json:build.version"
    assert v.parse_field_source("header:X-App-Version").describe() == "header X-App-Version"
    for bad in ("version", "json:", "json:a..b", "header:Bad Header", "yaml:x"):
        with pytest.raises(v.RuleError):
            v.parse_field_source(bad)
    assert v.split_system_ref("rita/CRVS", None) == ("RITA", "crvs")
    assert v.split_system_ref("crvs", "tra") == ("TRA", "crvs")
    with pytest.raises(v.RuleError, match="INSTITUTION/NAME"):
        v.split_system_ref("crvs", None)
    for ref, default in (("TRA/crvs#/crvs", None), ("../crvs", None), ("crvs", "RITA?x=1")):
        with pytest.raises(v.RuleError, match="institution code"):
            v.split_system_ref(ref, default)
    assert v.parse_target("1h30m", "RTO") == 90
    for bad in ("0", "0m"):
        with pytest.raises(v.RuleError, match=r"^RPO '0m?' must be more than zero$"):
            v.parse_target(bad, "RPO")


@given(st.integers(0, 400), st.integers(0, 59))
def test_durations_read_as_people_write_them(hours, mins):
    assert v.parse_minutes(f"{hours}h{mins}m") == hours * 60 + mins
    assert v.parse_minutes(f"{hours * 60 + mins}") == hours * 60 + mins


def test_duration_formats():
    assert [v.format_minutes(m) for m in (0.5, 15, 90, 2880, 1500)] == ["30 s", "15 min", "1 h 30 min", "2 d", "1 d 1 h"]
    for bad in ("soon", "5x", "-5m", "m5"):
        with pytest.raises(v.RuleError):
            v.parse_minutes(bad)
    assert v.parse_time("90m", NOW) == NOW - dt.timedelta(minutes=90)
    # a time without a zone is East Africa Time (UTC+3), as egactl shows times; the shown form and RFC 3339 too
    utc = dt.timezone.utc
    assert v.parse_time("2026-11-20T08:30", NOW) == dt.datetime(2026, 11, 20, 5, 30, tzinfo=utc)
    assert v.parse_time("2026-11-20 01:30", NOW) == dt.datetime(2026, 11, 19, 22, 30, tzinfo=utc)
    assert v.parse_time(" 2026-11-20 08:30 EAT ", NOW) == dt.datetime(2026, 11, 20, 5, 30, tzinfo=utc)
    assert v.parse_time("2026-11-20 08:30 UTC", NOW) == dt.datetime(2026, 11, 20, 8, 30, tzinfo=utc)
    assert v.parse_time("2026-11-20T08:30:00Z", NOW) == dt.datetime(2026, 11, 20, 8, 30, tzinfo=utc)
    assert v.parse_time("2026-11-20", NOW) == dt.datetime(2026, 11, 19, 21, 0, tzinfo=utc)
    with pytest.raises(v.RuleError, match=r"^time 'yesterday' must be how long ago \(90m, 2h, 3d\) or a time"):
        v.parse_time("yesterday", NOW)


def test_thresholds_are_typed_ranged_and_ordered():
    assert v.parse_threshold_assignment("cert_warn_days=45") == ("cert_warn_days", 45)
    assert v.parse_threshold_assignment("timeout_seconds=2.5") == ("timeout_seconds", 2.5)
    assert v.parse_threshold_assignment("version_mismatch=WARNING") == ("version_mismatch", "warning")
    assert v.parse_threshold_assignment("cert_warn_days=default") == ("cert_warn_days", None)
    with pytest.raises(v.RuleError, match="between"):
        v.parse_threshold_assignment("replication_warn_pct=150")
    with pytest.raises(v.RuleError, match="below"):
        v.normalise_thresholds({"cert_warn_days": 7})
    with pytest.raises(v.RuleError, match="number"):
        v.normalise_thresholds({"cert_warn_days": True})


def test_worst_ranks_unknown_between_warning_and_critical():
    assert v.worst(["OK", "WARNING", "UNKNOWN"]) == "UNKNOWN"
    assert v.worst(["UNKNOWN", "CRITICAL"]) == "CRITICAL"
    assert v.worst([]) == "OK"


@pytest.mark.parametrize("value, expected", [
    ("2026-11-22T08:45:00Z", dt.datetime(2026, 11, 22, 8, 45, tzinfo=dt.timezone.utc)),
    ("2026-11-22 11:45:00+03:00", dt.datetime(2026, 11, 22, 8, 45, tzinfo=dt.timezone.utc)),
    (1795337100, dt.datetime(2026, 11, 22, 8, 45, tzinfo=dt.timezone.utc)),
    ("1795337100000", dt.datetime(2026, 11, 22, 8, 45, tzinfo=dt.timezone.utc)),
    ("Sun, 22 Nov 2026 08:45:00 GMT", dt.datetime(2026, 11, 22, 8, 45, tzinfo=dt.timezone.utc)),
    ("yesterday", None), (True, None), (None, None),
])
def test_timestamps_in_every_form_health_endpoints_use(value, expected):
    assert parse_timestamp(value) == expected


def http(body: bytes = b"{}", status: int = 200, headers=None) -> ReachObservation:
    return ReachObservation("http", 0.01, status, headers or {}, body)


def test_read_field_explains_what_is_missing():
    src = v.parse_field_source("json:replicas.1.at")
    assert read_field(src, http(b'{"replicas": [{"at": 1}, {"at": 2}]}'), "DR site") == (2, None)
    assert read_field(src, http(b"<html>"), "DR site")[1] == "the DR site's response is not JSON"
    assert read_field(src, http(b'{"replicas": []}'), "DR site")[1] == "the DR site's response has no field 'replicas.1.at'"
    assert read_field(src, http(status=503), "DR site")[1] == "the DR site answered HTTP 503"
    down = ReachObservation("http", failure=Failure("refused", "connection refused"))
    assert read_field(src, down, "DR site")[1] == "the DR site did not answer (connection refused)"
    assert read_field(src, ReachObservation("tcp"), "DR site")[1].endswith("not an HTTP endpoint, so there is no response to read")


SYSTEM = {"system": "RITA/crvs", "institution": "RITA", "name": "crvs", "hosting": "gdc-dodoma",
          "hosting_approved": True, "dr_hosting": "gdc-dar", "dr_hosting_approved": True,
          "primary_endpoint": "https://a.rita.go.tz/h", "dr_endpoint": "https://b.rita.go.tz/h",
          "replicated_from": "json:at", "rpo_minutes": 15, "thresholds": {}, "days_since_successful_drill": 10,
          "last_successful_drill_at": "2026-11-12T09:00:00+00:00"}


def test_replication_from_the_future_is_a_clock_warning():
    dr = SiteObservation(v.parse_endpoint(SYSTEM["dr_endpoint"]), reach=http(b'{"at": "2026-11-22T09:20:00Z"}'))
    check = replication_check(SYSTEM, Observed(None, dr), v.DEFAULT_THRESHOLDS, NOW, "late")
    assert check.state == "WARNING" and "in the future; check the clocks" in check.reason


def test_tls_not_yet_valid_and_unreachable():
    cert = certificates.CertInfo("crvs", NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=90))
    t = TlsObservation(verified=False, verify_code=9, verify_message="certificate is not yet valid", chain=[cert])
    check = tls_check("primary", t, "a.rita.go.tz", v.DEFAULT_THRESHOLDS, NOW, "late")
    assert check.state == "CRITICAL" and check.reason == "certificate is not valid until 2026-11-23 12:00 EAT"
    down = TlsObservation(failure=Failure("refused", "connection refused"))
    assert tls_check("dr", down, "b", v.DEFAULT_THRESHOLDS, NOW, "late").state == "UNKNOWN"
    broken = TlsObservation(failure=Failure("tls", "TLS handshake failed: wrong version number"))
    assert tls_check("dr", broken, "b", v.DEFAULT_THRESHOLDS, NOW, "late").state == "CRITICAL"


def test_certificate_times_are_east_africa_time():
    """Reasons are for people: when a certificate ends, in EAT to the minute (22:30 UTC is already the next day)."""
    soon = certificates.CertInfo("crvs", NOW - dt.timedelta(days=60), dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.timezone.utc))
    check = tls_check("primary", TlsObservation(verified=True, chain=[soon]), "a.rita.go.tz", v.DEFAULT_THRESHOLDS,
                      NOW, "late")
    assert check.reason == ("a certificate in the chain expires in 4 days (2026-11-26 01:30 EAT, crvs); "
                            "critical below 7 days")
    gone = certificates.CertInfo("crvs", NOW - dt.timedelta(days=90), dt.datetime(2026, 11, 19, 22, 30, tzinfo=dt.timezone.utc))
    expired = TlsObservation(verified=False, verify_code=10, verify_message="certificate has expired", chain=[gone])
    check = tls_check("primary", expired, "a.rita.go.tz", v.DEFAULT_THRESHOLDS, NOW, "late")
    assert check.reason == "certificate expired 2 days ago (2026-11-20 01:30 EAT, crvs)"


def test_drill_and_hosting_verdicts():
    assert drill_check({**SYSTEM, "days_since_successful_drill": 366}, v.DEFAULT_THRESHOLDS).state == "CRITICAL"
    running = drill_check({**SYSTEM, "drill_running_since": "2026-11-22T08:00:00+00:00"}, v.DEFAULT_THRESHOLDS)
    assert running.state == "OK" and running.reason.endswith("a drill is in progress since 2026-11-22 11:00 EAT")
    late = drill_check({**SYSTEM, "days_since_successful_drill": 366,
                        "last_successful_drill_at": "2025-11-20T22:15:00+00:00"}, v.DEFAULT_THRESHOLDS)
    assert late.reason == "last successful drill 366 days ago (2025-11-21 01:15 EAT); due every 365 days"
    assert hosting_check({**SYSTEM, "dr_hosting": None}).state == "UNKNOWN"
    assert hosting_check({**SYSTEM, "dr_hosting_approved": False}).state == "CRITICAL"


def test_a_run_cut_short_says_so_per_check():
    verdict = evaluate(SYSTEM, Observed(None, None), now=NOW, deadline=30)
    by_name = {c.check: c for c in verdict.checks}
    assert by_name["primary.reachability"].reason == "not finished within the run's 30 s deadline"
    assert by_name["replication"].state == "UNKNOWN"
    assert verdict.status == "UNKNOWN"
