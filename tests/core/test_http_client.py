"""The HTTP client's promises: retries with backoff, Retry-After, ETags, request ids.

Faults the real backend does not produce on demand (a 503 storm, a 429 with
an HTTP-date) come from a tiny ASGI app reached over the same in-process HTTP
exchange; the client's ``sleep`` is injected so delays are recorded, not slept.
Everything else runs against the real backend.
"""

from __future__ import annotations

import email.utils
import json
import time

import httpx
import pytest
from sqlalchemy import select

from egactl.api_client import MAX_RETRY_AFTER, ApiClient
from egactl.errors import EXIT_CONFLICT, EXIT_FAILURE, EXIT_UNREACHABLE, ServerError, Unreachable
from egactl.sandbox import SyncASGITransport
from egactl.server.models import AuditEntry, Institution


class Scripted:
    """An ASGI app answering from a script: [(status, headers), ...], then 200 forever."""

    def __init__(self, *script: tuple[int, dict[str, str]], body: bytes = b'{"items": [], "next_cursor": null}'):
        self.script = list(script)
        self.body = body
        self.calls: list[tuple[str, dict[str, str]]] = []

    async def __call__(self, scope, receive, send):
        assert scope["type"] == "http"
        while (await receive()).get("more_body"):
            pass
        self.calls.append((scope["method"], {k.decode().lower(): v.decode() for k, v in scope["headers"]}))
        status, headers = self.script.pop(0) if self.script else (200, {})
        body = self.body if status < 400 else json.dumps({"status": status, "title": "busy", "detail": "try later"}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")] + [(k.encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def scripted():
    transports = []

    def make(*script, retries=4, backoff=0.25, **kw):
        app = Scripted(*script, **kw)
        t = SyncASGITransport(app)
        transports.append(t)
        delays: list[float] = []
        client = ApiClient("http://flaky", token="ega_test", transport=t, sleep=delays.append, retries=retries,
                           backoff=backoff)
        return client, app, delays

    yield make
    for t in transports:
        t.close()


# -- retries ----------------------------------------------------------------------------------


def test_503_twice_then_200_honours_retry_after(scripted):
    api, app, delays = scripted((503, {"Retry-After": "2"}), (503, {"Retry-After": "1"}))
    assert api.get("/api/v1/things") == {"items": [], "next_cursor": None}
    assert delays == [2.0, 1.0]
    assert len(app.calls) == 3


def test_429_with_an_http_date(scripted):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    api, app, delays = scripted((429, {"Retry-After": when}))
    api.get("/api/v1/things")
    # Seconds until that date (less the time this slow, shared machine took to get there).
    assert len(delays) == 1 and 15 <= delays[0] <= 30


def test_retry_after_is_capped(scripted):
    api, app, delays = scripted((503, {"Retry-After": "86400"}))
    api.get("/api/v1/things")
    assert delays == [MAX_RETRY_AFTER]


def test_without_retry_after_backoff_is_exponential_with_jitter(scripted):
    for _ in range(5):  # jitter is random: the bounds must hold every time
        api, app, delays = scripted((503, {}), (503, {}), (503, {}), retries=4, backoff=0.5)
        api.get("/api/v1/things")
        assert len(delays) == 3
        for attempt, d in enumerate(delays, start=1):
            assert 0 <= d <= 0.5 * 2 ** (attempt - 1)


def test_gives_up_after_the_configured_attempts_with_exit_7(scripted):
    api, app, delays = scripted(*[(503, {"Retry-After": "0"})] * 10, retries=3)
    with pytest.raises(Unreachable) as err:
        api.get("/api/v1/things")
    assert err.value.exit_code == EXIT_UNREACHABLE
    assert len(app.calls) == 3 and len(delays) == 2


def test_500_is_not_retried_and_exits_1(scripted):
    api, app, delays = scripted((500, {}))
    with pytest.raises(ServerError) as err:
        api.get("/api/v1/things")
    assert err.value.exit_code == EXIT_FAILURE
    assert len(app.calls) == 1 and delays == []


@pytest.mark.parametrize("method,key,retried", [
    ("GET", None, True), ("PUT", None, True), ("DELETE", None, True),
    ("POST", "k-123", True),
    ("POST", None, False),   # the server may have acted: without a key a retry could do it twice
    ("PATCH", None, False),  # not idempotent either
])
def test_which_requests_are_retried(scripted, method, key, retried):
    api, app, delays = scripted((503, {"Retry-After": "0"}))
    if retried:
        api.request(method, "/api/v1/things", json_body={} if method != "GET" else None, idempotency_key=key)
        assert len(app.calls) == 2
        if key:
            assert [h["idempotency-key"] for _, h in app.calls] == [key, key]
    else:
        with pytest.raises(Unreachable):
            api.request(method, "/api/v1/things", json_body={}, idempotency_key=key)
        assert len(app.calls) == 1 and delays == []


def test_post_helper_always_sends_a_key_and_keeps_it_across_retries(scripted):
    api, app, delays = scripted((503, {}), (429, {}), body=b'{"code": "X"}')
    api.post("/api/v1/things", {"code": "X"})
    keys = [h.get("idempotency-key") for _, h in app.calls]
    assert len(keys) == 3 and keys[0] and len(set(keys)) == 1


class FailConnect(httpx.BaseTransport):
    def __init__(self, inner, failures: int):
        self.inner, self.failures, self.attempts = inner, failures, 0

    def handle_request(self, request):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)


def test_connection_errors_are_retried_for_idempotent_requests_only(app, tokens, backend):
    inner = SyncASGITransport(app)
    try:
        t = FailConnect(inner, failures=2)
        delays: list[float] = []
        api = ApiClient("http://backend", token=tokens["admin"], transport=t, sleep=delays.append)
        assert api.get("/api/v1/institutions/RITA")["code"] == "RITA"
        assert t.attempts == 3 and len(delays) == 2
        t = FailConnect(inner, failures=1)
        api = ApiClient("http://backend", token=tokens["admin"], transport=t, sleep=delays.append)
        with pytest.raises(Unreachable):
            api.request("POST", "/api/v1/institutions", json_body={"code": "UDSM", "name": "UDSM", "kind": "other"})
        assert t.attempts == 1
    finally:
        inner.close()
    with backend.read_sessions() as s:
        assert s.scalar(select(Institution).where(Institution.code == "UDSM")) is None


def test_the_cli_rides_out_a_503_storm(scripted):
    """Through a command: the user sees the answer, not the storm."""
    from typer.testing import CliRunner

    from egactl.cli import app as root
    from egactl.context import Context

    flaky = Scripted((503, {"Retry-After": "3"}), (503, {"Retry-After": "3"}))
    transport = SyncASGITransport(flaky)
    delays: list[float] = []
    try:
        r = CliRunner().invoke(root, ["institutions", "list", "-o", "json"],
                               obj=Context(transport=transport, token="ega_test", sleep=delays.append))
    finally:
        transport.close()
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == []
    assert delays == [3.0, 3.0]


# -- ETag / If-Match ------------------------------------------------------------------------


class Recorder(httpx.BaseTransport):
    """Forwards to the backend, keeping every request and response; ``before`` runs ahead of each."""

    def __init__(self, inner, before=None):
        self.inner, self.before = inner, before
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request):
        if self.before:
            self.before(request)
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response


def run(transport, token, *args):
    from typer.testing import CliRunner

    from egactl.cli import app as root
    from egactl.context import Context

    return CliRunner().invoke(root, list(args), obj=Context(transport=transport, token=token, sleep=lambda s: None))


@pytest.fixture
def asgi(app):
    t = SyncASGITransport(app)
    yield t
    t.close()


def someone_else_changes(asgi, token, method, path):
    """Just before our request of ``method`` leaves, another admin changes the institution."""
    done = []

    def before(request):
        if request.method == method and not done:
            done.append(True)
            r = httpx.Client(transport=asgi, base_url="http://backend").patch(
                path, json={"name": "Renamed by someone else"}, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200

    return before


def test_update_sends_the_etag_it_read(asgi, tokens, backend):
    rec = Recorder(asgi)
    r = run(rec, tokens["admin"], "institutions", "update", "RITA", "--region", "Dodoma")
    assert r.exit_code == 0, r.stderr
    (get, got), (patch, patched) = rec.exchanges
    assert get.method == "GET" and patch.method == "PATCH"
    assert patch.headers["If-Match"] == got.headers["ETag"] == '"v1"'
    assert patched.headers["ETag"] == '"v2"'


def test_update_after_someone_else_changed_it_exits_5(asgi, tokens, backend):
    rec = Recorder(asgi, someone_else_changes(asgi, tokens["admin"], "PATCH", "/api/v1/institutions/RITA"))
    r = run(rec, tokens["operator"], "institutions", "update", "RITA", "--region", "Dodoma")
    assert r.exit_code == EXIT_CONFLICT
    assert rec.exchanges[-1][1].status_code == 412
    assert r.stderr.strip() == ("error: institution RITA changed since you read it (now at version 2); "
                                "someone else changed it; show it again and retry")
    with backend.read_sessions() as s:
        row = s.scalar(select(Institution).where(Institution.code == "RITA"))
    assert (row.name, row.region, row.version) == ("Renamed by someone else", "Dar es Salaam", 2)


def test_delete_after_someone_else_changed_it_exits_5(asgi, tokens, backend):
    rec = Recorder(asgi, someone_else_changes(asgi, tokens["admin"], "DELETE", "/api/v1/institutions/UDOM"))
    r = run(rec, tokens["admin"], "institutions", "delete", "UDOM", "--yes")
    assert r.exit_code == EXIT_CONFLICT, r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(Institution.name).where(Institution.code == "UDOM")) == "Renamed by someone else"


def test_weak_and_listed_etags_match(asgi, tokens):
    c = httpx.Client(transport=asgi, base_url="http://backend", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert c.patch("/api/v1/institutions/RITA", json={"region": "A"}, headers={"If-Match": 'W/"v1"'}).status_code == 200
    assert c.patch("/api/v1/institutions/RITA", json={"region": "B"}, headers={"If-Match": '"v9", "v2"'}).status_code == 200
    assert c.patch("/api/v1/institutions/RITA", json={"region": "C"}, headers={"If-Match": '"v2"'}).status_code == 412
    assert c.patch("/api/v1/institutions/RITA", json={"region": "D"}, headers={"If-Match": "*"}).status_code == 200


# -- X-Request-ID ----------------------------------------------------------------------------


def test_every_request_carries_a_request_id_and_the_audit_entry_has_it(asgi, tokens, backend):
    rec = Recorder(asgi)
    assert run(rec, tokens["admin"], "institutions", "create", "UDSM", "--name", "UDSM", "--kind", "other").exit_code == 0
    assert run(rec, tokens["admin"], "institutions", "update", "UDSM", "--region", "Dar es Salaam").exit_code == 0
    assert run(rec, tokens["admin"], "institutions", "list").exit_code == 0
    ids = [q.headers.get("X-Request-ID") for q, _ in rec.exchanges]
    assert len(rec.exchanges) >= 4 and all(ids) and len(set(ids)) == len(ids)
    assert all(resp.headers["X-Request-ID"] == q.headers["X-Request-ID"] for q, resp in rec.exchanges)
    mutations = {q.method: q.headers["X-Request-ID"] for q, _ in rec.exchanges if q.method in ("POST", "PATCH")}
    with backend.read_sessions() as s:
        audit = {e.action: e.request_id for e in s.scalars(select(AuditEntry).where(AuditEntry.resource_id == "UDSM"))}
    assert audit == {"create": mutations["POST"], "update": mutations["PATCH"]}


def test_the_server_error_line_names_the_request_id(asgi, tokens, backend):
    from sqlalchemy import text

    with backend.engine.begin() as conn:
        conn.execute(text("DROP TABLE core_audit"))
    rec = Recorder(asgi)
    r = run(rec, tokens["admin"], "institutions", "create", "UDSM", "--name", "UDSM", "--kind", "other")
    assert r.exit_code == EXIT_FAILURE
    sent = rec.exchanges[-1][0].headers["X-Request-ID"]
    assert r.stderr.strip().endswith(f"request id {sent}")


def test_retries_are_told_apart_but_traceable(scripted):
    api, app, _ = scripted((503, {}), (503, {}))
    api.get("/api/v1/things")
    first, second, third = (h["x-request-id"] for _, h in app.calls)
    assert second == f"{first}.2" and third == f"{first}.3"
