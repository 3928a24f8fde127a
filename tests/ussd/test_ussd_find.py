"""egactl find and a USSD code: any form people give it names the code, with its holder,
service, state and status on each mobile network; the lookup is one primary-key read."""

from __future__ import annotations

import datetime as dt

import pytest

from egactl.plugin.testing import query_plans
from egactl_ussd import rules
from egactl_ussd.server.models import UssdCode

ASSIGN = ("--service", "RITA Vyeti", "--purpose", "Certificates", "--callback-url", "https://ussd.rita.go.tz/u")


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


@pytest.fixture
def rita_07(cli):
    """*152*07# assigned to RITA, live on every network but Airtel."""
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "07", *ASSIGN))
    ok(cli("ussd", "provision", "07", "-n", "all", "-s", "live"))
    ok(cli("ussd", "provision", "07", "-n", "airtel", "-s", "failed", "--note", "ticket 4411"))
    return "*152*07#"


def found(cli, term, role="admin"):
    r = cli("find", term, "--service", "ussd", "-o", "json", role=role)
    assert r.exit_code == 0, (term, r.stderr)
    return r.json()


@pytest.mark.parametrize("term, rank", [("*152*07#", 100), ("152*07", 100), ("*152*7#", 100), ("*152*07*1*2#", 90),
                                        ("152*07*3", 90), ("07", 70), ("7", 70)])
def test_every_form_of_a_code_names_its_holder_service_state_and_networks(cli, rita_07, term, rank):
    [item] = found(cli, term)
    assert item == {"service": "ussd", "kind": "code", "reference": "*152*07#", "institution": "RITA", "rank": rank,
                    "summary": "RITA · RITA Vyeti · assigned · 4/5 live; Airtel failed",
                    "command": "egactl ussd show 07"}
    shown = ok(cli(*item["command"].split()[1:], "-o", "json")).json()  # the command really shows it
    assert (shown["code"], shown["institution"]) == ("*152*07#", "RITA")


def test_the_summary_follows_the_stored_state(cli, backend, clock, rita_07):
    ok(cli("ussd", "suspend", "07", "--reason", "complaints", "--yes"))
    assert found(cli, rita_07)[0]["summary"] == "RITA · RITA Vyeti · suspended · 4/5 live; Airtel failed"
    clock.advance(hours=13)  # released at 22:00 UTC: already the next day in Dar es Salaam
    ok(cli("ussd", "release", "07", "--reason", "moved", "--yes"))
    with backend.read_sessions() as s:
        until = s.get(UssdCode, 7).quarantine_until
    assert until.astimezone(dt.timezone.utc) == dt.datetime(2027, 2, 20, 22, 0, tzinfo=dt.timezone.utc)
    # When it frees, as people read times: East Africa Time to the minute (not the UTC date).
    assert found(cli, rita_07)[0]["summary"] == "RITA · RITA Vyeti · released, in quarantine until 2027-02-21 01:00 EAT"
    assert found(cli, "*152*08#")[0]["summary"] == "available: no institution holds it"
    assert found(cli, "*152*08#")[0]["institution"] is None


def test_a_quarantine_that_ended_is_available_again(cli, clock, rita_07):
    ok(cli("ussd", "release", "07", "--reason", "moved", "--yes"))
    clock.advance(days=91)
    assert found(cli, rita_07)[0]["summary"] == "available: no institution holds it"


def test_a_reserved_code_names_its_application(cli):
    ok(cli("ussd", "reserve", "-i", "TRA", "--reference", "TRA/ICT/9", "--code", "12"))
    [item] = found(cli, "*152*12#")
    assert (item["summary"], item["institution"]) == ("TRA · TRA/ICT/9 · reserved", "TRA")


@pytest.mark.parametrize("role", ["operator", "operator_tra", "helpdesk"])
def test_every_role_reads_the_registry_as_ussd_show_does(cli, rita_07, role):
    # The registry is public to every role (tests/ussd/test_ussd_access.py: an operator
    # reads the whole registry) and holds no personal data: nothing to scope or mask.
    [item] = found(cli, rita_07, role=role)
    assert (item["institution"], item["summary"]) == ("RITA", "RITA · RITA Vyeti · assigned · 4/5 live; Airtel failed")
    assert ok(cli("ussd", "show", "07", "-o", "json", role=role)).json()["institution"] == "RITA"


@pytest.mark.parametrize("term", ["*153*07#", "*152*100#", "0754123456", "RITA", "10.20.0.1", "*152*07*x#"])
def test_what_is_no_code_is_not_answered(cli, rita_07, term):
    r = cli("find", term, "--service", "ussd")
    assert r.exit_code == 3, r.stdout + r.stderr
    assert "nothing found" in r.stderr


def test_dialled_strings_follow_the_code_rule():
    assert rules.parse_dialled("*152*07*1#") == 7
    assert rules.parse_dialled(" 152*99*1*2 ") == 99
    for text in ("*152*07#", "*153*07*1#", "*152*100*1#", "*152*07**#", ""):
        with pytest.raises(rules.RuleError):
            rules.parse_dialled(text)


def test_the_lookup_reads_the_code_by_its_key_on_sqlite(cli, backend, rita_07):
    plans = query_plans(backend.engine, "ussd_", lambda: found(cli, rita_07))
    assert plans
    for plan in plans:
        assert "SCAN" not in plan, plan
        assert "PRIMARY KEY" in plan or "INDEX" in plan, plan


def test_the_lookup_reads_the_code_by_its_key_on_postgresql(postgres_url):
    from tests.conftest import cli_on

    with cli_on(postgres_url) as (cli, be):
        ok(cli("ussd", "assign", "-i", "RITA", "--code", "07", *ASSIGN))
        plans = query_plans(be.engine, "ussd_", lambda: found(cli, "*152*07#"))
        assert plans
        for plan in plans:
            assert "Index" in plan and "Seq Scan" not in plan, plan
