"""ussd: codes as people type them, accepted or refused the same way by the
commands (before anything is sent) and by the backend."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl.plugin.rules import RuleError
from egactl_ussd import rules
from egactl_ussd.server.models import UssdCode

ACCEPTED = [("*152*07#", 7), ("152*07", 7), ("07", 7), ("7", 7), ("*152*7#", 7), (" *152*99# ", 99),
            ("00", 0), ("*152*00#", 0), ("152*7#", 7)]
REFUSED = ["*152*100#", "*153*07#", "abc", "", "100", "007", "*152*#", "152", "*152*07*1#", "-7"]


@pytest.mark.parametrize("text,number", ACCEPTED)
def test_accepted_forms(text, number):
    assert rules.parse_code(text) == number


@pytest.mark.parametrize("text", REFUSED)
def test_refused_forms(text):
    with pytest.raises(RuleError):
        rules.parse_code(text)


def test_canonical_and_path_forms():
    assert rules.canonical(7) == "*152*07#"
    assert rules.two_digits(7) == "07"
    assert rules.canonical(rules.parse_code("152*42")) == "*152*42#"


@pytest.mark.parametrize("text", ["*152*07#", "152*07", "07", "7"])
def test_show_accepts_every_form(cli, text):
    r = cli("ussd", "show", text, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["code"] == "*152*07#"
    assert r.json()["number"] == "07"


@pytest.mark.parametrize("text", ["*152*100#", "*153*07#", "abc", ""])
def test_show_refuses_with_exit_2(cli, text):
    r = cli("ussd", "show", text)
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ")
    assert r.stdout == ""


@pytest.mark.parametrize("text", ["*152*100#", "*153*07#", "abc", ""])
def test_assign_with_a_bad_code_sends_nothing(cli, backend, text):
    r = cli("ussd", "assign", "-i", "RITA", "--code", text, "--service", "Vyeti", "--purpose", "Birth certificates",
            "--callback-url", "https://ussd.rita.go.tz/ussd")
    assert r.exit_code == 2
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(UssdCode).where(UssdCode.state != "available")) == 1
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_backend_refuses_a_bad_code_too(cli):
    """The backend is authoritative: a raw API call with a bad code gets 422 (exit 2), not a guess."""
    r = cli("api", "POST", "/api/v1/ussd/assignments", "-f", "institution=RITA", "-f", "service_name=Vyeti",
            "-f", "purpose=Birth certificates", "-f", "callback_url=https://ussd.rita.go.tz/ussd", "-f", "code=*153*07#")
    assert r.exit_code == 2
    assert "*153*07#" in r.stderr
    r = cli("api", "GET", "/api/v1/ussd/codes/100")
    assert r.exit_code == 2


def test_the_whole_range_exists_from_the_start(cli, backend):
    r = cli("ussd", "list", "-o", "json")
    assert r.exit_code == 0, r.stderr
    codes = r.json()
    assert [c["code"] for c in codes] == [rules.canonical(n) for n in range(100)]
    assert codes[0]["state"] == "reserved" and codes[0]["institution"] == "EGA"
    assert {c["state"] for c in codes[1:]} == {"available"}
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(UssdCode)) == 100


def test_a_fresh_serve_database_gets_the_range_once(tmp_path):
    """Not only the sandbox: any backend that creates the tables creates the 100 codes, and a
    second start on the same database adds none."""
    from egactl.server.app import create_app

    url = f"sqlite:///{tmp_path / 'serve.db'}"
    for _ in range(2):
        be = create_app(url, plugins=["ussd"]).state.backend
        with be.read_sessions() as s:
            assert s.scalar(select(func.count()).select_from(UssdCode)) == 100
            assert s.get(UssdCode, 0).state == "reserved"
        be.engine.dispose()


@pytest.mark.parametrize("text,expected", [("+255754123456", "+255754123456"), ("0754 123 456", "+255754123456"),
                                           ("255654123456", "+255654123456")])
def test_phone_numbers(text, expected):
    assert rules.parse_phone(text) == expected


@pytest.mark.parametrize("text", ["+254712345678", "0254123456", "12345", ""])
def test_phone_numbers_refused(text):
    with pytest.raises(RuleError):
        rules.parse_phone(text)


@pytest.mark.parametrize("text,name", [("vodacom", "Vodacom"), ("AIRTEL", "Airtel"), ("tigo", "Yas"), ("ttcl", "TTCL")])
def test_networks(text, name):
    assert rules.parse_network(text) == name


def test_an_unknown_network_is_refused_naming_the_networks():
    with pytest.raises(RuleError, match="unknown network 'safaricom'; one of Vodacom, Airtel, Yas, Halotel, TTCL"):
        rules.parse_network("safaricom")


@pytest.mark.parametrize("url", ["ftp://x.go.tz/u", "ussd.rita.go.tz", "https://", "https://x.go.tz/u#frag",
                                 "http://x.go.tz:99999/"])
def test_callback_urls_refused(url):
    assert rules.check_callback_url(url) is not None


def test_callback_url_accepted():
    assert rules.check_callback_url("https://ussd.rita.go.tz/ussd?src=ega") is None
