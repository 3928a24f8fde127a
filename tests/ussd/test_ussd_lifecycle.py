"""ussd: every legal and every illegal transition, through the commands and the
real backend; what the user sees, what is stored, what is audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from egactl.server.models import AuditEntry
from egactl_ussd import rules
from egactl_ussd.server.models import UssdCode

URL = "https://ussd.rita.go.tz/ussd"
ASSIGN = ("--service", "RITA Vyeti", "--purpose", "Birth and death certificates", "--callback-url", URL)


@pytest.fixture
def backend_settings():
    """These tests hand one institution many codes; the quota has tests of its own (test_ussd_quota.py)."""
    return {"ussd.quota": 99}


def row(backend, number):
    with backend.read_sessions() as s:
        return s.get(UssdCode, number)


def audit_for(backend, code):
    with backend.read_sessions() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.resource_id == code).order_by(AuditEntry.id)).all()


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def put_in_state(cli, number: int, state: str) -> None:
    """Walk code ``number`` to ``state`` by the commands themselves."""
    n = str(number)
    if state == "available":
        return
    if state == "reserved":
        ok(cli("ussd", "reserve", "-i", "RITA", "--reference", "RITA/ICT/2026/14", "--code", n))
        return
    ok(cli("ussd", "assign", "-i", "RITA", "--code", n, *ASSIGN))
    if state == "suspended":
        ok(cli("ussd", "suspend", n, "--reason", "fraud reports", "--yes"))
    elif state == "released":
        ok(cli("ussd", "release", n, "--reason", "service retired", "--yes"))


def run_action(cli, action: str, number: int):
    n = str(number)
    if action == "reserve":
        return cli("ussd", "reserve", "-i", "RITA", "--reference", "RITA/ICT/2026/15", "--code", n, "-o", "json")
    if action == "assign":
        return cli("ussd", "assign", "-i", "RITA", "--code", n, *ASSIGN, "-o", "json")
    extra = ("--yes",) if action in ("suspend", "release") else ()
    return cli("ussd", action, n, "--reason", f"{action} for the test", *extra, "-o", "json")


@pytest.mark.parametrize("action", rules.CODE.actions)
def test_every_transition_from_every_state(cli, backend, action):
    for number, state in enumerate(rules.CODE.states, start=10):
        put_in_state(cli, number, state)
        assert row(backend, number).state == state
        entries_before = len(audit_for(backend, f"*152*{number}#"))
        r = run_action(cli, action, number)
        target = rules.CODE.next_state(action, state) if rules.CODE.allows(action, state) else None
        stored = row(backend, number)
        entries = audit_for(backend, f"*152*{number}#")
        if target is None:
            assert r.exit_code == 5, (action, state, r.stderr)
            assert f"it is {state}" in r.stderr, r.stderr
            assert stored.state == state, (action, state)
            assert len(entries) == entries_before
        else:
            assert r.exit_code == 0, (action, state, r.stderr)
            assert r.json()["state"] == target
            assert stored.state == target, (action, state)
            last = entries[-1]
            assert (last.action, last.before["state"], last.after["state"]) == (action, state, target)
            assert last.actor == "admin@ega.go.tz" and last.request_id


def test_the_life_of_a_code_is_an_sdk_lifecycle_whose_refusal_names_the_code():
    """One table (rules.CODE) for the backend and the dry runs; its refusal is an
    IllegalTransition (the route frame's 409) worded for the code."""
    from egactl.plugin.rules import IllegalTransition, Lifecycle

    assert isinstance(rules.CODE, Lifecycle)
    assert rules.CODE.sources("release") == ("reserved", "assigned", "suspended")
    with pytest.raises(IllegalTransition, match=r"^cannot suspend \*152\*05#: it is available "
                                                r"\(only a code that is assigned can be suspended\)$"):
        rules.next_state("suspend", "*152*05#", "available")
    # When it frees, in the one time format for people: East Africa Time (UTC+3), whatever zone it is given in.
    with pytest.raises(IllegalTransition, match=r"it is released .*; it is in quarantine until 2027-02-20 12:00 EAT$"):
        rules.next_state("assign", "*152*05#", "released", dt.datetime(2027, 2, 20, 9, tzinfo=dt.timezone.utc))
    with pytest.raises(IllegalTransition, match=r"; it is in quarantine until 2027-02-21 01:30 EAT$"):
        rules.next_state("assign", "*152*05#", "released", dt.datetime(2027, 2, 20, 22, 30, tzinfo=dt.timezone.utc))
    assert rules.next_state("release", "*152*05#", "reserved") == "available"


def test_assign_records_the_service_and_opens_provisioning(cli, backend):
    r = ok(cli("ussd", "assign", "-i", "RITA", *ASSIGN, "-o", "json"))
    data = r.json()
    assert data["code"] == "*152*01#" and data["state"] == "assigned" and data["institution"] == "RITA"
    assert data["callback_url"] == URL and data["service_name"] == "RITA Vyeti"
    assert [(n["network"], n["state"]) for n in data["networks"]] == [
        ("Vodacom", "pending"), ("Airtel", "pending"), ("Yas", "pending"), ("Halotel", "pending"), ("TTCL", "pending")]
    stored = row(backend, 1)
    assert (stored.state, stored.institution, stored.callback_url) == ("assigned", "RITA", URL)
    assert len(stored.networks) == 5


def test_assign_tells_people_what_happened(cli):
    r = ok(cli("ussd", "assign", "-i", "rita", *ASSIGN))
    assert "Assigned *152*01# to RITA" in r.stderr
    assert "*152*01#" in r.stdout and "assigned" in r.stdout


def test_a_reservation_is_assigned_only_to_its_institution(cli, backend):
    ok(cli("ussd", "reserve", "-i", "TRA", "--reference", "TRA/ICT/2026/3", "--code", "21"))
    r = cli("ussd", "assign", "-i", "RITA", "--code", "21", *ASSIGN)
    assert r.exit_code == 5
    assert "reserved for TRA" in r.stderr
    assert row(backend, 21).institution == "TRA"
    r = ok(cli("ussd", "assign", "-i", "TRA", "--code", "21", *ASSIGN, "-o", "json"))
    assert r.json()["state"] == "assigned" and r.json()["application_reference"] == "TRA/ICT/2026/3"


def test_assign_without_code_skips_reserved_and_held_codes(cli):
    ok(cli("ussd", "reserve", "-i", "TRA", "--reference", "TRA/1", "--code", "1"))
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "2", *ASSIGN))
    r = ok(cli("ussd", "assign", "-i", "NIDA", *ASSIGN, "-o", "json"))
    assert r.json()["code"] == "*152*03#"


def test_releasing_a_reservation_frees_it_at_once(cli, backend):
    """A reserved code was never on any network, so no citizen can have learnt it."""
    ok(cli("ussd", "reserve", "-i", "TRA", "--reference", "TRA/2", "--code", "30"))
    r = ok(cli("ussd", "release", "30", "--reason", "application withdrawn", "--yes", "-o", "json"))
    assert r.json()["state"] == "available"
    assert row(backend, 30).institution is None


def test_a_released_code_is_refused_naming_when_it_frees_in_east_africa_time(cli, backend, clock):
    """The 409's detail is for people (EAT, to the minute); the stored time stays UTC, RFC 3339 for scripts."""
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "31", *ASSIGN))
    clock.advance(hours=14, minutes=30)  # released 23:30 UTC: 02:30 the next day in Dar es Salaam
    ok(cli("ussd", "release", "31", "--reason", "service retired", "--yes"))
    assert row(backend, 31).quarantine_until == dt.datetime(2027, 2, 20, 23, 30, tzinfo=dt.timezone.utc)
    r = cli("ussd", "assign", "-i", "TRA", "--code", "31", *ASSIGN)
    assert r.exit_code == 5
    assert r.stderr.strip().endswith("it is released (only a code that is available or reserved can be assigned); "
                                     "it is in quarantine until 2027-02-21 02:30 EAT")
    shown = ok(cli("ussd", "show", "31", "-o", "json")).json()
    assert shown["quarantine_until"] == "2027-02-20T23:30:00+00:00"
    # A dry run refuses in the same words, from the code as the API shows it.
    dry = cli("ussd", "assign", "-i", "TRA", "--code", "31", *ASSIGN, "--dry-run")
    assert dry.exit_code == 5 and dry.stderr.strip().endswith("in quarantine until 2027-02-21 02:30 EAT")
    dry = cli("ussd", "resume", "31", "--reason", "wrong code released", "--dry-run")
    assert dry.exit_code == 5 and dry.stderr.strip().endswith("in quarantine until 2027-02-21 02:30 EAT")


def test_the_gateway_code_never_moves(cli, backend):
    for action in rules.CODE.actions:
        r = run_action(cli, action, 0)
        assert r.exit_code == 5, (action, r.stderr)
        assert "e-GA gateway" in r.stderr
    r = cli("ussd", "update", "00", "--service", "Something else")
    assert r.exit_code == 5
    stored = row(backend, 0)
    assert (stored.state, stored.institution, stored.version) == ("reserved", "EGA", 1)


def test_suspend_and_release_need_yes_in_a_script(cli, backend):
    put_in_state(cli, 5, "assigned")
    for action in ("suspend", "release"):
        r = cli("ussd", action, "5", "--reason", "checking the prompt")
        assert r.exit_code == 2
        assert "--yes" in r.stderr
    assert row(backend, 5).state == "assigned"


def test_resume_needs_no_confirmation(cli, backend):
    put_in_state(cli, 6, "suspended")
    r = ok(cli("ussd", "resume", "6", "--reason", "fraud cleared"))
    assert "Resumed *152*06#" in r.stderr
    assert row(backend, 6).state == "assigned"
    assert row(backend, 6).suspended_at is None


def test_a_reason_is_required(cli, backend):
    put_in_state(cli, 7, "assigned")
    r = cli("ussd", "suspend", "7", "--reason", "x", "--yes")
    assert r.exit_code == 2
    assert "reason" in r.stderr
    assert row(backend, 7).state == "assigned"


def test_dry_run_says_and_changes_nothing(cli, backend):
    put_in_state(cli, 8, "assigned")
    version = row(backend, 8).version
    r = ok(cli("ussd", "suspend", "8", "--reason", "planned maintenance", "--dry-run"))
    assert "would suspend *152*08#" in r.stderr and "assigned → suspended" in r.stderr
    r = cli("ussd", "resume", "8", "--reason", "not suspended", "--dry-run")
    assert r.exit_code == 5 and "it is assigned" in r.stderr
    r = ok(cli("ussd", "assign", "-i", "NIDA", *ASSIGN, "--dry-run", "-o", "json"))
    assert r.json()["code"] == "*152*01#" and r.json()["state"] == "assigned"
    r = ok(cli("ussd", "reserve", "-i", "NIDA", "--reference", "N/1", "--code", "9", "--dry-run"))
    assert "would reserve *152*09# for NIDA" in r.stderr
    r = cli("ussd", "assign", "-i", "NOPE", *ASSIGN, "--dry-run")
    assert r.exit_code == 3
    r = ok(cli("ussd", "update", "8", "--service", "New name", "--dry-run"))
    assert "would update *152*08#" in r.stderr
    assert row(backend, 8).version == version and row(backend, 8).state == "assigned"
    assert row(backend, 1).state == "available" and row(backend, 9).state == "available"


def test_update_changes_the_callback(cli, backend):
    put_in_state(cli, 11, "assigned")
    before = row(backend, 11).version
    r = ok(cli("ussd", "update", "11", "--callback-url", "https://ussd2.rita.go.tz/ussd", "--service", "RITA Huduma",
               "-o", "json"))
    assert r.json()["callback_url"] == "https://ussd2.rita.go.tz/ussd"
    stored = row(backend, 11)
    assert (stored.callback_url, stored.service_name) == ("https://ussd2.rita.go.tz/ussd", "RITA Huduma")
    assert stored.version == before + 1
    last = audit_for(backend, "*152*11#")[-1]
    assert last.action == "update" and last.before["callback_url"] == URL


def test_update_refuses_a_free_code_and_a_bad_url(cli, backend):
    r = cli("ussd", "update", "12", "--service", "Nothing here")
    assert r.exit_code == 5 and "it is available" in r.stderr
    put_in_state(cli, 12, "assigned")
    r = cli("ussd", "update", "12", "--callback-url", "ftp://rita.go.tz/x")
    assert r.exit_code == 2
    assert row(backend, 12).callback_url == URL
    r = cli("ussd", "update", "12")
    assert r.exit_code == 2 and "nothing to change" in r.stderr


def test_stale_etag_is_refused(cli, backend):
    put_in_state(cli, 13, "assigned")
    r = cli("api", "PATCH", "/api/v1/ussd/codes/13", "-f", "service_name=Other", "-H", 'If-Match: "v1"')
    assert r.exit_code == 5
    assert row(backend, 13).service_name == "RITA Vyeti"


def test_unknown_institution_is_not_found(cli, backend):
    r = cli("ussd", "assign", "-i", "NOPE", *ASSIGN)
    assert r.exit_code == 3
    assert "institution NOPE not found" in r.stderr
    assert row(backend, 1).state == "available"
