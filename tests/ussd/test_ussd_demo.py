"""The sandbox's demo USSD application: on a fresh sandbox (no profile, the backend in
this process) ``*152*99#`` is e-GA's demo, served by the reference backend itself, and
``ussd simulate`` plays it to its END without anything leaving the machine."""

from __future__ import annotations

import json
import re
import socket

import pytest
from typer.testing import CliRunner

from egactl.cli import app

DEMO_URL = "http://sandbox/api/v1/ussd/demo"
HEADER = re.compile(r"^── (CON|END) \((\d+)/182 GSM-7 septets, \d+ ms, text='([0-9*]*)'\) ──$")


def sandbox(*args: str):
    """egactl on a fresh sandbox, as a person runs it with nothing configured."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a network connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def screens(stdout: str) -> list[tuple[str, str, str]]:
    """(kind, text, screen) per step, from what a person sees."""
    out: list[tuple[str, str, str]] = []
    for line in stdout.splitlines():
        if m := HEADER.match(line):
            out.append((m.group(1), m.group(3), ""))
        elif out and not line.startswith("> "):
            kind, text, screen = out[-1]
            out[-1] = (kind, text, f"{screen}\n{line}" if screen else line)
    return out


def test_a_fresh_sandbox_simulates_the_demo_code_to_its_end(offline):
    r = sandbox("ussd", "simulate", "99", "--input", "1*2")
    assert r.exit_code == 0, r.stderr
    assert screens(r.stdout) == [
        ("CON", "", "Welcome to the e-GA demo service\n1. Birth certificate\n2. Help"),
        ("CON", "1", "Birth certificate\n1. Apply\n2. Fee"),
        ("END", "1*2", "The fee is TSh 3,500"),
    ]
    lines = r.stdout.splitlines()
    assert [line for line in lines if line.startswith("> ")] == ["> 1", "> 2"]  # the choices keyed in, echoed
    assert f"Dialling *152*99# from +255700000000 on Vodacom → {DEMO_URL}" in r.stderr
    assert "Session ended cleanly after 3 screens" in r.stderr


@pytest.mark.parametrize("choices", ["3", "1*9"])
def test_an_unknown_choice_is_answered_as_the_application_answers(offline, choices):
    r = sandbox("ussd", "simulate", "*152*99#", "--input", choices, "-o", "json")
    assert r.exit_code == 0, r.stderr
    t = json.loads(r.stdout)
    assert t["outcome"] == "ended" and t["error"] is None and t["url"] == DEMO_URL
    last = t["steps"][-1]
    assert (last["text"], last["kind"], last["screen"], last["status"]) == (
        choices, "END", "Invalid choice. Please dial again", 200)
    shown = sandbox("ussd", "simulate", "99", "--input", choices)
    assert shown.exit_code == 0 and screens(shown.stdout)[-1] == ("END", choices, "Invalid choice. Please dial again")


def test_the_demo_code_is_seeded_live_and_shows_where_it_points():
    r = sandbox("ussd", "show", "99", "-o", "json")
    assert r.exit_code == 0, r.stderr
    code = json.loads(r.stdout)
    assert (code["code"], code["state"], code["institution"], code["service_name"], code["callback_url"], code["live"]) == (
        "*152*99#", "assigned", "EGA", "e-GA Demo", DEMO_URL, True)
    history = json.loads(sandbox("ussd", "history", "99", "-o", "json").stdout)
    assert [(h["action"], h["from_state"], h["to_state"], h["actor"]) for h in history] == [
        ("assign", "available", "assigned", "sandbox")]
    # The walk-through of docs/ussd.md still starts at the lowest code.
    first = json.loads(sandbox("ussd", "available", "--limit", "1", "-o", "json").stdout)
    assert first[0]["code"] == "*152*01#"


def test_a_session_still_open_when_the_input_runs_out_is_exit_2(offline):
    r = sandbox("ussd", "simulate", "99", "--input", "1")
    assert r.exit_code == 2
    assert screens(r.stdout)[-1] == ("CON", "1", "Birth certificate\n1. Apply\n2. Fee")
    assert "the session is still open after 1 choice" in r.stderr


def test_any_code_pointing_at_the_demo_plays_it_for_every_role(cli):
    """On a backend without the seed: a code assigned to the demo's address (and --url)
    reach it through the API client; the help desk may simulate too (nothing changes)."""
    r = cli("ussd", "assign", "-i", "RITA", "--code", "07", "--service", "RITA Vyeti", "--purpose", "Certificates",
            "--callback-url", DEMO_URL, role="operator")
    assert r.exit_code == 0, r.stderr
    for role in ("admin", "operator", "helpdesk"):
        t = cli("ussd", "simulate", "07", "--input", "1*1", "-o", "json", role=role)
        assert t.exit_code == 0, (role, t.stderr)
        assert t.json()["steps"][-1]["screen"] == "Your application has been received. You will get an SMS."
    t = cli("ussd", "simulate", "55", "--url", DEMO_URL, "--input", "2", "-o", "json", role="helpdesk")
    assert t.exit_code == 0, t.stderr
    assert t.json()["steps"][-1]["kind"] == "END"
    assert cli("ussd", "show", "07", "-o", "json").json()["version"] == 2  # simulating changed nothing


def test_the_demo_application_is_an_api_route_that_needs_a_token(app, tokens):
    import httpx

    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    try:
        with httpx.Client(transport=transport, base_url="http://sandbox") as http:
            assert http.post("/api/v1/ussd/demo", data={"text": ""}).status_code == 401
            r = http.post("/api/v1/ussd/demo", data={"sessionId": "s1", "serviceCode": "*152*99#",
                                                      "phoneNumber": "+255700000000", "networkCode": "64004",
                                                      "text": "1"},
                          headers={"Authorization": f"Bearer {tokens['helpdesk']}"})
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
            assert r.text == "CON Birth certificate\n1. Apply\n2. Fee"
    finally:
        transport.close()


def test_against_egactl_serve_the_demo_is_reached_at_the_apis_own_address(served):
    """Over real HTTP: a callback on the API's address (port included) goes through the
    API client, which brings the token the demo route asks for."""
    def ok(r):
        assert r.returncode == 0, r.stderr
        return r

    ok(served.run("institutions", "create", "RITA", "--name", "Registration Insolvency and Trusteeship Agency",
                  "--kind", "agency"))
    ok(served.run("ussd", "assign", "-i", "RITA", "--code", "07", "--service", "RITA Vyeti", "--purpose",
                  "Certificates", "--callback-url", f"{served.url}/api/v1/ussd/demo"))
    t = json.loads(ok(served.run("ussd", "simulate", "07", "--input", "1*2", "-o", "json")).stdout)
    assert t["outcome"] == "ended" and t["url"] == f"{served.url}/api/v1/ussd/demo"
    assert [s["screen"] for s in t["steps"]][-1] == "The fee is TSh 3,500"


@pytest.mark.parametrize("url, api, base_path", [
    ("http://sandbox/api/v1/ussd/demo", "http://sandbox", ""),
    ("HTTP://Sandbox:80/api/v1/ussd/demo", "http://sandbox", ""),
    ("http://127.0.0.1:8080/api/v1/ussd/demo", "http://127.0.0.1:8080/", ""),
    ("https://api.ega.go.tz/egactl/api/v1/ussd/demo", "https://api.ega.go.tz/egactl/", "/egactl"),
    ("https://sandbox/api/v1/ussd/demo", "http://sandbox", None),                  # another scheme
    ("http://127.0.0.1:8081/api/v1/ussd/demo", "http://127.0.0.1:8080", None),      # another port
    ("https://api.ega.go.tz/other/api/v1/ussd/demo", "https://api.ega.go.tz/egactl", None),  # outside its path
    ("https://ussd.rita.go.tz/ussd", "http://sandbox", None),                       # an institution's application
])
def test_only_an_application_on_the_apis_own_address_goes_through_the_api_client(url, api, base_path):
    from egactl_ussd.commands.gateway import on_api

    assert on_api(url, api) == base_path
