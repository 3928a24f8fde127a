"""Every API error is RFC 9457 problem+json, with the same fields, and never a traceback.

The shape (type, title, status, detail, instance, request_id, and errors for
field problems) is what the CLI turns into one line and an exit code, and what
other teams' clients parse; it is checked here for each status the core answers
with, over a real HTTP exchange with the real backend.
"""

from __future__ import annotations

import json
import logging
import uuid

import httpx
import pytest
from sqlalchemy import select, text

from egactl.server.models import AuditEntry, Institution

PROBLEM = "application/problem+json"
LEAKS = ("Traceback", "File \"", "sqlalchemy", "sqlite3", "SELECT ", "INSERT ", "core_", ".py")


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Request-ID": str(uuid.uuid4()), **extra}


def assert_problem(response: httpx.Response, status: int, *, path: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert {"type", "title", "status", "detail", "instance", "request_id"} <= set(body), body
    assert body["status"] == status
    assert body["type"] == "about:blank" or body["type"].startswith(("http", "/", "urn:"))
    assert isinstance(body["title"], str) and body["title"]
    # `detail` is the one line the CLI prints after "error: ".
    assert isinstance(body["detail"], str) and body["detail"] and "\n" not in body["detail"]
    assert body["instance"] == (path or response.request.url.path)
    sent = response.request.headers.get("X-Request-ID")
    if sent:
        assert body["request_id"] == sent
    assert response.headers.get("X-Request-ID") == body["request_id"]
    for leak in LEAKS:
        assert leak not in response.text, f"{leak!r} leaked: {response.text}"
    if "errors" in body:
        assert isinstance(body["errors"], list) and body["errors"]
        for e in body["errors"]:
            assert set(e) == {"field", "message"} and e["message"]
    return body


def test_404_resource(http, tokens):
    r = http.get("/api/v1/institutions/NOPE", headers=auth(tokens["admin"]))
    body = assert_problem(r, 404)
    assert body["title"] == "Not Found" and body["detail"] == "institution NOPE not found"
    assert "errors" not in body


def test_404_unknown_path_is_a_problem_too(http, tokens):
    r = http.get("/api/v1/no-such-thing", headers=auth(tokens["admin"]))
    body = assert_problem(r, 404)
    assert "/api/v1/no-such-thing" in body["detail"]


def test_409_duplicate(http, tokens):
    r = http.post("/api/v1/institutions", headers=auth(tokens["admin"]),
                  json={"code": "RITA", "name": "Another", "kind": "agency"})
    body = assert_problem(r, 409)
    assert body["detail"] == "institution RITA already exists with other values for name"  # the others were not asked
    assert body["differs"] == ["name"]
    assert body["errors"][0] == {"field": "name", "message": "is 'Registration Insolvency and Trusteeship Agency' there, "
                                                             "not 'Another'"}


def test_412_stale_if_match(http, tokens, backend):
    r = http.patch("/api/v1/institutions/RITA", headers=auth(tokens["admin"], **{"If-Match": '"v7"'}),
                   json={"region": "Dodoma"})
    body = assert_problem(r, 412)
    assert "version 1" in body["detail"]
    with backend.read_sessions() as s:
        assert s.scalar(select(Institution.region).where(Institution.code == "RITA")) == "Dar es Salaam"


def test_422_names_every_bad_field(http, tokens):
    r = http.post("/api/v1/institutions", headers=auth(tokens["admin"]),
                  json={"code": "NEWCO", "kind": "company", "contact_email": "not-an-address"})
    body = assert_problem(r, 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"name", "kind", "contact_email"} <= fields
    assert body["detail"].startswith("invalid request: ")


def test_422_for_a_body_that_is_not_json(http, tokens):
    r = http.post("/api/v1/institutions", headers=auth(tokens["admin"], **{"Content-Type": "application/json"}),
                  content=b"{not json")
    assert_problem(r, 422)


def test_401_and_403_are_problems(http, tokens):
    r = http.get("/api/v1/institutions", headers={"X-Request-ID": "rid-401"})
    body = assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert body["request_id"] == "rid-401"
    r = http.post("/api/v1/institutions", headers=auth(tokens["helpdesk"]),
                  json={"code": "NEWCO", "name": "New Co", "kind": "agency"})
    assert_problem(r, 403)


def test_405_is_a_problem(http, tokens):
    r = http.put("/api/v1/institutions/RITA", headers=auth(tokens["admin"]), json={})
    assert_problem(r, 405)


def test_500_has_no_traceback_and_the_log_has_the_request_id(http, tokens, backend, caplog):
    with backend.engine.begin() as conn:
        conn.execute(text("DROP TABLE core_institutions"))
    with caplog.at_level(logging.ERROR, logger="egactl.server"):
        r = http.get("/api/v1/institutions", headers=auth(tokens["admin"]))
    body = assert_problem(r, 500)
    assert body["title"] == "Internal Server Error"
    logged = [rec for rec in caplog.records if rec.exc_info]
    assert logged, "the traceback belongs in the server's log"
    assert body["request_id"] in logged[0].getMessage()


def test_request_id_is_made_when_the_caller_sends_none(http, tokens, backend):
    """curl users get a request id too, and it is the one in the audit log."""
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    r = http.get("/api/v1/institutions/NOPE", headers=headers)
    body = assert_problem(r, 404)
    assert body["request_id"]
    r = http.post("/api/v1/institutions", headers=headers, json={"code": "UDSM", "name": "UDSM", "kind": "other"})
    assert r.status_code == 201
    rid = r.headers["X-Request-ID"]
    with backend.read_sessions() as s:
        assert s.scalar(select(AuditEntry.request_id).where(AuditEntry.resource_id == "UDSM")) == rid


@pytest.mark.parametrize("bad", ["x" * 300, "has spaces in it", ""])
def test_unusable_request_ids_are_replaced(http, tokens, backend, bad):
    """The audit column holds 80 characters; a caller's oversized id must not fail the mutation."""
    headers = {"Authorization": f"Bearer {tokens['admin']}", "X-Request-ID": bad}
    r = http.post("/api/v1/institutions", headers=headers, json={"code": "UDSM", "name": "UDSM", "kind": "other"})
    assert r.status_code == 201, r.text
    rid = r.headers["X-Request-ID"]
    assert rid and rid != bad and len(rid) <= 80
    with backend.read_sessions() as s:
        assert s.scalar(select(AuditEntry.request_id).where(AuditEntry.resource_id == "UDSM")) == rid


def test_500_over_real_http(served, tmp_path):
    """Under uvicorn too: the problem body, not a bare "Internal Server Error" text."""
    import sqlite3

    db = served.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE core_institutions")
    r = httpx.get(f"{served.url}/api/v1/institutions", headers=auth(served.admin_token), timeout=10)
    body = assert_problem(r, 500)
    assert json.dumps(body).count("Traceback") == 0
    r = served.run("institutions", "list")
    assert r.returncode == 1
    assert r.stderr.startswith("error: the server failed to handle this request; request id ")
    assert "Traceback" not in r.stderr
