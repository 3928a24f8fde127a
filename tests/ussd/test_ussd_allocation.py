"""ussd: the range runs out honestly, and a released code waits out its
quarantine (moved by the backend's clock, never by sleeping)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from egactl_ussd.server.models import UssdCode

ASSIGN = ("--service", "Huduma", "--purpose", "Citizen services", "--callback-url", "https://ussd.example.go.tz/u")
INSTITUTIONS = ("RITA", "TRA", "NIDA", "MOH", "UDOM", "KINONDONI-MC", "ARUSHA-CC")


@pytest.fixture
def backend_settings():
    """These tests hand one institution many codes; the quota has tests of its own (test_ussd_quota.py)."""
    return {"ussd.quota": 99}


def assign(cli, institution="RITA", *extra):
    return cli("ussd", "assign", "-i", institution, *ASSIGN, *extra, "-o", "json")


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def test_all_99_then_one_more(cli, backend, clock):
    codes = []
    for i in range(99):
        codes.append(ok(assign(cli, INSTITUTIONS[i % len(INSTITUTIONS)])).json()["code"])
    assert codes == [f"*152*{n:02d}#" for n in range(1, 100)]
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(UssdCode).where(UssdCode.state == "assigned")) == 99

    r = assign(cli)
    assert r.exit_code == 5
    assert "no code available" in r.stderr
    assert "none is in quarantine" in r.stderr

    ok(cli("ussd", "release", "40", "--reason", "service retired", "--yes"))
    clock.advance(days=10)
    ok(cli("ussd", "release", "12", "--reason", "merged into another service", "--yes"))
    r = assign(cli)
    assert r.exit_code == 5
    assert "no code available" in r.stderr
    assert "2 are in quarantine" in r.stderr
    first_frees = (dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone.utc) + dt.timedelta(days=90))
    # For people, East Africa Time (2027-02-20 09:00 UTC is 12:00 EAT); for scripts, RFC 3339 as stored.
    assert "2 are in quarantine, the next frees on 2027-02-20 12:00 EAT" in r.stderr

    r = cli("ussd", "assign", "-i", "RITA", *ASSIGN, "-o", "json")
    problem = __import__("json").loads(r.stderr)["problem"]
    assert problem["detail"].endswith("2 are in quarantine, the next frees on 2027-02-20 12:00 EAT")
    assert problem["in_quarantine"] == 2 and problem["next_free_at"] == first_frees.isoformat()

    clock.advance(days=81)  # 91 days after the first release, 81 after the second
    r = ok(assign(cli, "NIDA"))
    assert r.json()["code"] == "*152*40#"
    assert assign(cli).exit_code == 5


def test_a_released_code_is_not_offered_until_its_quarantine_ends(cli, backend, clock):
    ok(cli("ussd", "assign", "-i", "TRA", "--code", "1", *ASSIGN))
    r = ok(cli("ussd", "release", "1", "--reason", "TRA moved to *152*05#", "--yes", "-o", "json"))
    assert r.json()["state"] == "released"
    assert r.json()["quarantine_until"] == "2027-02-20T09:00:00+00:00"

    def offered():
        return [c["code"] for c in ok(cli("ussd", "available", "-o", "json")).json()]

    assert "*152*01#" not in offered()
    assert ok(assign(cli, "RITA")).json()["code"] == "*152*02#"
    r = cli("ussd", "assign", "-i", "RITA", "--code", "1", *ASSIGN)
    assert r.exit_code == 5
    assert "it is released" in r.stderr and "quarantine until 2027-02-20" in r.stderr
    r = cli("ussd", "reserve", "-i", "RITA", "--reference", "R/1", "--code", "1")
    assert r.exit_code == 5

    clock.advance(days=89, hours=23)
    assert "*152*01#" not in offered()
    assert ok(cli("ussd", "show", "1", "-o", "json")).json()["state"] == "released"

    clock.advance(hours=1)
    assert offered()[0] == "*152*01#"
    shown = ok(cli("ussd", "show", "1", "-o", "json")).json()
    assert shown["state"] == "available" and shown["institution"] is None
    r = ok(assign(cli, "RITA"))
    assert r.json()["code"] == "*152*01#" and r.json()["institution"] == "RITA"
    with backend.read_sessions() as s:
        stored = s.get(UssdCode, 1)
        assert (stored.state, stored.institution, stored.released_at) == ("assigned", "RITA", None)


def test_available_summarises_for_people(cli, clock):
    ok(cli("ussd", "assign", "-i", "TRA", "--code", "3", *ASSIGN))
    ok(cli("ussd", "release", "3", "--reason", "done", "--yes"))
    r = ok(cli("ussd", "available", "--limit", "2"))
    assert r.stdout.split() == ["CODE", "NUMBER", "*152*01#", "01", "*152*02#", "02"]
    assert "98 of 99 codes available; 1 in quarantine, the next frees 2027-02-20 12:00 EAT" in r.stderr
    r = ok(cli("ussd", "available", "-o", "json", "--limit", "1"))
    assert r.stderr == ""


def test_list_filters_by_state_and_institution(cli, clock):
    ok(cli("ussd", "assign", "-i", "TRA", "--code", "4", *ASSIGN))
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "5", *ASSIGN))
    ok(cli("ussd", "release", "5", "--reason", "done", "--yes"))
    assert [c["code"] for c in ok(cli("ussd", "list", "--state", "assigned", "-o", "json")).json()] == ["*152*04#"]
    assert [c["code"] for c in ok(cli("ussd", "list", "--state", "released", "-o", "json")).json()] == ["*152*05#"]
    assert [c["code"] for c in ok(cli("ussd", "list", "-i", "rita", "-o", "json")).json()] == ["*152*05#"]
    clock.advance(days=90)
    assert ok(cli("ussd", "list", "--state", "released", "-o", "json")).json() == []
    assert ok(cli("ussd", "list", "-i", "RITA", "-o", "json")).json() == []
    assert len(ok(cli("ussd", "list", "--state", "available", "-o", "json")).json()) == 98
    r = cli("ussd", "list", "--state", "gone")
    assert r.exit_code == 2


def test_list_pages_follow_the_cursor(cli):
    r = ok(cli("ussd", "list", "--limit", "5", "-o", "json"))
    assert [c["number"] for c in r.json()] == ["00", "01", "02", "03", "04"]
    r = ok(cli("ussd", "list", "--all", "-o", "json"))
    assert len(r.json()) == 100


def test_an_empty_result_is_still_valid_output(cli):
    assert ok(cli("ussd", "list", "--state", "suspended", "-o", "json")).stdout.strip() == "[]"
    assert ok(cli("ussd", "list", "--state", "suspended", "-o", "csv")).stdout.startswith("code,state,institution")


class TestShorterQuarantine:
    @pytest.fixture
    def backend_settings(self):
        return {"ussd.quarantine_days": 30}

    def test_the_quarantine_is_configurable(self, cli, clock):
        ok(cli("ussd", "assign", "-i", "TRA", "--code", "1", *ASSIGN))
        r = ok(cli("ussd", "release", "1", "--reason", "done", "--yes", "-o", "json"))
        assert r.json()["quarantine_until"] == "2026-12-22T09:00:00+00:00"
        clock.advance(days=30)
        assert ok(cli("ussd", "show", "1", "-o", "json")).json()["state"] == "available"


def test_a_retried_assign_gets_the_same_code_not_a_second(cli, backend):
    """The client reuses one Idempotency-Key across retries; the server answers a replay from its store."""
    args = ("api", "POST", "/api/v1/ussd/assignments", "-f", "institution=RITA", "-f", "service_name=Vyeti",
            "-f", "purpose=Birth certificates", "-f", "callback_url=https://ussd.rita.go.tz/ussd",
            "-H", "Idempotency-Key: assign-rita-vyeti-1")
    first, again = ok(cli(*args)), ok(cli(*args))
    assert first.json()["code"] == again.json()["code"] == "*152*01#"
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(UssdCode).where(UssdCode.state == "assigned")) == 1
