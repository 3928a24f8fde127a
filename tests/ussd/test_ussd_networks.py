"""ussd: each held code's provisioning on the five mobile networks, and the
help desk's `list --not-live`."""

from __future__ import annotations

from sqlalchemy import select

from egactl.server.models import AuditEntry
from egactl_ussd.server.models import UssdCode

ASSIGN = ("--service", "Huduma", "--purpose", "Citizen services", "--callback-url", "https://ussd.example.go.tz/u")


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def stored_networks(backend, number):
    with backend.read_sessions() as s:
        return {p.network: (p.state, p.note) for p in s.get(UssdCode, number).networks}


def test_provision_is_stored_shown_and_audited(cli, backend):
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "7", *ASSIGN))
    r = ok(cli("ussd", "provision", "*152*07#", "-n", "Vodacom", "-n", "tigo", "--state", "live", "-o", "json"))
    assert {n["network"]: n["state"] for n in r.json()["networks"]} == {
        "Vodacom": "live", "Airtel": "pending", "Yas": "live", "Halotel": "pending", "TTCL": "pending"}
    ok(cli("ussd", "provision", "07", "-n", "airtel", "--state", "failed", "--note", "Airtel ticket 4411"))
    assert stored_networks(backend, 7)["Airtel"] == ("failed", "Airtel ticket 4411")
    shown = ok(cli("ussd", "show", "07"))
    assert "Vodacom live, Airtel failed (Airtel ticket 4411), Yas live, Halotel pending, TTCL pending" in shown.stdout
    with backend.read_sessions() as s:
        reasons = s.scalars(select(AuditEntry.reason).where(AuditEntry.action == "network-status")).all()
    assert reasons == ["Vodacom: live", "Yas: live", "Airtel: failed (Airtel ticket 4411)"]


def test_not_live_lists_what_the_help_desk_must_chase(cli):
    for n in (3, 4, 5):
        ok(cli("ussd", "assign", "-i", "TRA", "--code", str(n), *ASSIGN))
    ok(cli("ussd", "provision", "3", "-n", "all", "-s", "live"))  # -s is --state, as everywhere
    ok(cli("ussd", "provision", "4", "-n", "all", "--state", "live"))
    ok(cli("ussd", "provision", "4", "-n", "halotel", "--state", "failed"))
    ok(cli("ussd", "reserve", "-i", "RITA", "--reference", "R/2", "--code", "6"))

    r = ok(cli("ussd", "list", "--not-live", "-o", "json", role="helpdesk"))
    assert [c["code"] for c in r.json()] == ["*152*04#", "*152*05#"]
    shown = ok(cli("ussd", "show", "3", "-o", "json", role="helpdesk")).json()
    assert shown["live"] is True
    r = ok(cli("ussd", "list", "--not-live", role="helpdesk"))
    lines = r.stdout.splitlines()
    assert "4/5 live; Halotel failed" in lines[1]
    assert "pending on all 5" in lines[2]

    ok(cli("ussd", "suspend", "5", "--reason", "complaints", "--yes"))
    assert [c["code"] for c in ok(cli("ussd", "list", "--not-live", "-o", "json")).json()] == ["*152*04#", "*152*05#"]
    ok(cli("ussd", "release", "5", "--reason", "closed", "--yes"))
    assert [c["code"] for c in ok(cli("ussd", "list", "--not-live", "-o", "json")).json()] == ["*152*04#"]


def test_only_held_codes_are_provisioned(cli, backend):
    r = cli("ussd", "provision", "8", "-n", "vodacom", "--state", "live")
    assert r.exit_code == 5 and "it is available" in r.stderr
    ok(cli("ussd", "reserve", "-i", "RITA", "--reference", "R/3", "--code", "8"))
    r = cli("ussd", "provision", "8", "-n", "vodacom", "--state", "live")
    assert r.exit_code == 5 and "it is reserved" in r.stderr
    assert stored_networks(backend, 8) == {}


def test_release_drops_the_provisioning(cli, backend):
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "9", *ASSIGN))
    ok(cli("ussd", "provision", "9", "-n", "all", "--state", "live"))
    ok(cli("ussd", "release", "9", "--reason", "retired", "--yes"))
    assert stored_networks(backend, 9) == {}


def test_release_warns_when_still_live(cli):
    """Without --yes (the prompt path), the warning comes before the question."""
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "10", *ASSIGN))
    ok(cli("ussd", "provision", "10", "-n", "vodacom", "-n", "airtel", "--state", "live"))
    r = cli("ussd", "release", "10", "--reason", "retired")
    assert r.exit_code == 2  # no terminal: needs --yes
    assert "still live on Vodacom, Airtel" in r.stderr


def test_bad_network_or_state_is_refused_before_sending(cli, backend):
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "11", *ASSIGN))
    r = cli("ussd", "provision", "11", "-n", "safaricom", "--state", "live")
    assert r.exit_code == 2 and "unknown network" in r.stderr
    r = cli("ussd", "provision", "11", "-n", "vodacom", "--state", "up")
    assert r.exit_code == 2
    r = cli("api", "PUT", "/api/v1/ussd/codes/11/networks/safaricom", "-f", "state=live")
    assert r.exit_code == 2
    assert set(s for s, _ in stored_networks(backend, 11).values()) == {"pending"}
