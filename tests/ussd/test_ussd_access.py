"""ussd: who may do what. Operators change only their own institution's codes;
the help desk reads everything and changes nothing; network status is e-GA's."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_ussd.server.models import UssdCode

ASSIGN = ("--service", "Huduma", "--purpose", "Citizen services", "--callback-url", "https://ussd.example.go.tz/u")


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def snapshot(backend):
    with backend.read_sessions() as s:
        codes = [(c.id, c.state, c.institution, c.version, c.callback_url) for c in s.scalars(select(UssdCode))]
        return codes, s.scalar(select(func.count()).select_from(AuditEntry))


@pytest.fixture
def tra_code(cli):
    """*152*05# assigned to TRA, *152*06# suspended for TRA (by an admin)."""
    ok(cli("ussd", "assign", "-i", "TRA", "--code", "5", *ASSIGN))
    ok(cli("ussd", "assign", "-i", "TRA", "--code", "6", *ASSIGN))
    ok(cli("ussd", "suspend", "6", "--reason", "audit", "--yes"))
    return "05"


def test_operator_assigns_and_changes_own_codes(cli, backend):
    r = ok(cli("ussd", "assign", "-i", "RITA", *ASSIGN, "-o", "json", role="operator"))
    assert r.json()["institution"] == "RITA"
    number = r.json()["number"]
    ok(cli("ussd", "update", number, "--service", "RITA Vyeti", role="operator"))
    ok(cli("ussd", "suspend", number, "--reason", "maintenance", "--yes", role="operator"))
    ok(cli("ussd", "resume", number, "--reason", "maintenance over", role="operator"))
    ok(cli("ussd", "release", number, "--reason", "moving to a new code", "--yes", role="operator"))
    with backend.read_sessions() as s:
        assert s.get(UssdCode, int(number)).state == "released"


def test_operator_of_rita_cannot_take_a_code_for_tra(cli, backend):
    before = snapshot(backend)
    r = cli("ussd", "assign", "-i", "TRA", *ASSIGN, role="operator")
    assert r.exit_code == 4
    assert "institution TRA" in r.stderr
    r = cli("ussd", "reserve", "-i", "TRA", "--reference", "T/1", role="operator")
    assert r.exit_code == 4
    assert snapshot(backend) == before


@pytest.mark.parametrize("args", [
    ("suspend", "05", "--reason", "not yours", "--yes"),
    ("release", "05", "--reason", "not yours", "--yes"),
    ("resume", "06", "--reason", "not yours"),
    ("release", "06", "--reason", "not yours", "--yes"),
    ("update", "05", "--callback-url", "https://evil.example.com/u"),
    ("assign", "-i", "RITA", "--code", "05", *ASSIGN),
    ("reserve", "-i", "RITA", "--reference", "R/1", "--code", "06"),
])
def test_operator_of_rita_cannot_change_tras_codes(cli, backend, tra_code, args):
    before = snapshot(backend)
    r = cli("ussd", *args, role="operator")
    if args[0] in ("assign", "reserve"):
        # the code is not free: the holder is not revealed as a permission problem, it is simply taken
        assert r.exit_code == 5, r.stderr
    else:
        assert r.exit_code == 4, r.stderr
        assert "institution TRA" in r.stderr
    assert snapshot(backend) == before


def test_operator_reads_the_whole_registry(cli, tra_code):
    r = ok(cli("ussd", "list", "--state", "assigned", "-o", "json", role="operator"))
    assert [c["institution"] for c in r.json()] == ["TRA"]
    assert ok(cli("ussd", "show", tra_code, "-o", "json", role="operator")).json()["institution"] == "TRA"


def test_only_ega_records_network_status(cli, backend, tra_code):
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "7", *ASSIGN))
    before = snapshot(backend)
    for role in ("operator", "operator_tra"):
        r = cli("ussd", "provision", "07" if role == "operator" else tra_code, "-n", "vodacom", "--state", "live",
                role=role)
        assert r.exit_code == 4, r.stderr
        assert "admin" in r.stderr
    assert snapshot(backend) == before


MUTATIONS = [
    ("assign", "-i", "RITA", *ASSIGN),
    ("reserve", "-i", "RITA", "--reference", "R/1"),
    ("suspend", "05", "--reason", "help desk", "--yes"),
    ("resume", "06", "--reason", "help desk"),
    ("release", "05", "--reason", "help desk", "--yes"),
    ("update", "05", "--service", "Changed by the help desk"),
    ("provision", "05", "-n", "all", "--state", "live"),
]


@pytest.mark.parametrize("args", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_helpdesk_changes_nothing(cli, backend, tra_code, args):
    before = snapshot(backend)
    r = cli("ussd", *args, role="helpdesk")
    assert r.exit_code == 4, r.stderr
    assert "read-only" in r.stderr
    assert snapshot(backend) == before


def test_helpdesk_reads_everything(cli, tra_code):
    for args in (("list",), ("list", "--not-live"), ("list", "--state", "suspended"), ("available",),
                 ("show", "*152*05#"), ("history", "05"), ("show", "00")):
        r = cli("ussd", *args, "-o", "json", role="helpdesk")
        assert r.exit_code == 0, (args, r.stderr)
        assert r.json()
    history = cli("ussd", "history", "06", "-o", "json", role="helpdesk").json()
    assert [(h["action"], h["from_state"], h["to_state"]) for h in history] == [
        ("suspend", "assigned", "suspended"), ("assign", "available", "assigned")]  # newest first
    assert all(h["before"] is None and h["after"] is None for h in history)  # the data stays with e-GA staff
    assert history[0]["reason"] == "audit" and history[0]["actor"] == "admin@ega.go.tz"
