"""Every answer carries the server's own time for the request (``Server-Timing: app;dur=<ms>``),
set in one place (a middleware around everything else), and ``--debug`` shows it beside the
client's own time."""

from __future__ import annotations

import re

import httpx
import pytest

APP = re.compile(r"(?:^|, )app;dur=(\d+\.\d)$")


def test_a_success_says_how_long_the_server_took(http, tokens):
    r = http.get("/api/v1/institutions", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert r.status_code == 200
    timing = r.headers["server-timing"]
    assert APP.search(timing), timing
    # one header: the admission gate's queue wait and the app's time side by side
    assert len(r.headers.get_list("server-timing")) == 1
    assert timing.startswith("queue;dur=")


@pytest.mark.parametrize("path, status", [("/api/v1/institutions/NOPE", 404), ("/api/v1/institutions", 401)])
def test_a_problem_says_it_too(http, tokens, path, status):
    headers = {"Authorization": f"Bearer {tokens['admin']}"} if status != 401 else {}
    r = http.get(path, headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert APP.search(r.headers["server-timing"]), r.headers


def test_outside_the_api_too(http):
    r = http.get("/no/such/route")
    assert r.status_code == 404
    assert APP.search(r.headers["server-timing"])


def test_debug_shows_the_server_time(cli):
    r = cli("--debug", "institutions", "list", "-o", "json")
    assert r.exit_code == 0, r.stderr
    status = [line for line in r.stderr.splitlines() if line.startswith("< 200 ")]
    assert status and re.fullmatch(r"< 200 OK \(\d+ ms; server \d+\.\d ms\)", status[0]), status
    assert re.search(r"^< server-timing: .*app;dur=\d+\.\d$", r.stderr, re.M)


def test_server_ms_reads_the_app_metric_only():
    from egactl.api_client import server_ms

    def response(value: str | None) -> httpx.Response:
        return httpx.Response(200, headers={"Server-Timing": value} if value is not None else {})

    assert server_ms(response("queue;dur=4.0, app;dur=12.5")) == 12.5
    assert server_ms(response('app;desc="x";dur=3')) == 3.0
    assert server_ms(response("queue;dur=4.0")) is None
    assert server_ms(response("application;dur=9")) is None
    assert server_ms(response(None)) is None
