"""Who may do what, route by route, enforced by the backend.

The table RULES has one row per core route: how to call it, and the status each
caller gets. The list of routes is read from the app itself, so a new core
route without a row here fails ``test_every_core_route_has_a_rule``. Callers:
admin, operator of RITA, operator of TRA, helpdesk, and the four ways of not
being authenticated (no token, an unknown one, an expired one, a revoked one).

Plugins test their own routes' rules; the central rules that hold for every
route of every mounted plugin are checked generically at the end: no route
answers without a valid token, and the helpdesk role cannot mutate anything.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pytest
from sqlalchemy import func, select

from egactl.server.models import ApiToken, AuditEntry, Institution
from egactl.server.scope import ApiRoute

CORE_PREFIXES = ("/api/v1/institutions", "/api/v1/tokens", "/api/v1/audit")
ROLES = ("admin", "operator", "operator_tra", "helpdesk")
UNAUTHENTICATED = ("no_token", "bad_token", "expired_token", "revoked_token")
CALLERS = ROLES + UNAUTHENTICATED
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_seq = itertools.count(1)


@dataclass
class World:
    """The running backend and a token for every kind of caller."""

    http: httpx.Client
    backend: Any
    tokens: dict[str, str | None]

    def new_institution(self) -> str:
        code = f"TMP{next(_seq)}"
        with self.backend.write_sessions() as s:
            now = self.backend.now()
            s.add(Institution(code=code, name=f"Temporary {code}", kind="other", version=1, created_at=now, updated_at=now))
            s.commit()
        return code

    def new_token(self) -> int:
        from egactl.server.security import issue_token

        with self.backend.write_sessions() as s:
            _, row = issue_token(s, subject=f"victim{next(_seq)}", role="helpdesk", now=self.backend.now())
            s.commit()
            return row.id


@dataclass
class Rule:
    """How to call a route as ``role``, and the status each caller must get."""

    call: Callable[[World, str], tuple[str, str, dict | None]]
    allowed: dict[str, int]
    """Status for the roles that may; every other role gets 403, unauthenticated callers 401."""
    check: Callable[[World, str, httpx.Response], None] | None = None

    def expected(self, caller: str) -> int:
        if caller in UNAUTHENTICATED:
            return 401
        return self.allowed.get(caller, 403)


def _new_code() -> str:
    return f"NEW{next(_seq)}"


def _own(role: str) -> str:
    """The institution an operator is scoped to (so a refusal is about the role, not the scope)."""
    return {"operator": "RITA", "operator_tra": "TRA"}.get(role, "RITA")


EVERYONE = {r: 200 for r in ROLES}


def _check_self(w: World, caller: str, r: httpx.Response) -> None:
    subject = {"admin": "admin@ega.go.tz", "operator": "ops@rita.go.tz", "operator_tra": "ops@tra.go.tz",
               "helpdesk": "helpdesk@ega.go.tz"}[caller]
    assert r.json()["subject"] == subject
    assert "token" not in r.json() and "token_hash" not in r.json()


def _check_audit_scope(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert items, "the world has audit entries for RITA and TRA"
    if caller == "operator":
        assert {i["institution"] for i in items} == {"RITA"}
    elif caller == "operator_tra":
        assert {i["institution"] for i in items} == {"TRA"}
    else:
        assert {"RITA", "TRA"} <= {i["institution"] for i in items}
    if caller == "helpdesk":  # who did what and when, but not the personal data in before/after
        assert all(i["before"] is None and i["after"] is None for i in items)
    else:
        assert any(i["after"] for i in items)


def _check_patch_scope(w: World, caller: str, r: httpx.Response) -> None:
    assert r.json()["region"] == f"Region of {caller}"


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/institutions"): Rule(lambda w, role: ("GET", "/api/v1/institutions", None), EVERYONE),
    # The directory is shared reference data: every role reads every entry.
    ("GET", "/api/v1/institutions/{code}"): Rule(lambda w, role: ("GET", "/api/v1/institutions/TRA", None), EVERYONE),
    ("POST", "/api/v1/institutions"): Rule(
        lambda w, role: ("POST", "/api/v1/institutions", {"code": _new_code(), "name": "New Agency", "kind": "agency"}),
        {"admin": 201}),
    ("POST", "/api/v1/institutions/bulk"): Rule(
        lambda w, role: ("POST", "/api/v1/institutions/bulk",
                         {"items": [{"line": 2, "code": _new_code(), "name": "New Agency", "kind": "agency"}]}),
        {"admin": 200}),
    # Operators change their own institution's details, and only those.
    ("PATCH", "/api/v1/institutions/{code}"): Rule(
        lambda w, role: ("PATCH", "/api/v1/institutions/RITA", {"region": f"Region of {role}"}),
        {"admin": 200, "operator": 200}, _check_patch_scope),
    # Deleting is for e-GA only, even an operator's own institution.
    ("DELETE", "/api/v1/institutions/{code}"): Rule(
        lambda w, role: ("DELETE", f"/api/v1/institutions/{w.new_institution() if role == 'admin' else _own(role)}", None),
        {"admin": 200}),
    ("GET", "/api/v1/tokens/self"): Rule(lambda w, role: ("GET", "/api/v1/tokens/self", None), EVERYONE, _check_self),
    ("GET", "/api/v1/tokens"): Rule(lambda w, role: ("GET", "/api/v1/tokens", None), {"admin": 200}),
    ("POST", "/api/v1/tokens"): Rule(
        lambda w, role: ("POST", "/api/v1/tokens", {"subject": f"s{next(_seq)}", "role": "operator", "institutions": [_own(role)]}),
        {"admin": 201}),
    ("DELETE", "/api/v1/tokens/{token_id}"): Rule(
        lambda w, role: ("DELETE", f"/api/v1/tokens/{w.new_token()}", None), {"admin": 200}),
    ("GET", "/api/v1/audit"): Rule(lambda w, role: ("GET", "/api/v1/audit", None), EVERYONE, _check_audit_scope),
}


@dataclass(frozen=True)
class Mounted:
    """A route as the app serves it: full path (with the router's prefix), methods, route object."""

    path: str
    methods: frozenset[str]
    route: Any

    @property
    def endpoint(self):
        return getattr(self.route, "endpoint", None)


def mounted_routes(app) -> list[Mounted]:
    """Every route the app serves. FastAPI ≥ 0.16x keeps included routers as such in
    ``app.routes``; ``iter_route_contexts`` walks them with their prefixes."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        return [Mounted(r.path, frozenset(getattr(r, "methods", None) or ()), r) for r in app.routes]
    return [Mounted(rc.path, frozenset(rc.methods or ()), rc.original_route) for rc in iter_route_contexts(app.routes)]


def core_routes(app) -> set[tuple[str, str]]:
    return {(m, r.path) for r in mounted_routes(app) if r.path.startswith(CORE_PREFIXES) for m in r.methods}


@pytest.fixture
def world(app, backend, tokens):
    from egactl.sandbox import SyncASGITransport
    from egactl.server.security import issue_token

    now = backend.now()
    with backend.write_sessions() as s:
        expired, _ = issue_token(s, subject="gone@ega.go.tz", role="admin", now=now - dt.timedelta(days=40),
                                 expires_at=now - dt.timedelta(seconds=1))
        revoked, row = issue_token(s, subject="revoked@ega.go.tz", role="admin", now=now)
        row.revoked_at = now
        s.commit()
    all_tokens = {**tokens, "no_token": None, "bad_token": "ega_" + "x" * 43, "expired_token": expired,
                  "revoked_token": revoked}
    transport = SyncASGITransport(app)
    http = httpx.Client(transport=transport, base_url="http://backend")
    w = World(http, backend, all_tokens)
    # Some history to see: one change at RITA, one at TRA.
    for code in ("RITA", "TRA"):
        r = http.patch(f"/api/v1/institutions/{code}", json={"contact_email": f"ict@{code.lower()}.go.tz"},
                       headers={"Authorization": f"Bearer {tokens['admin']}"})
        assert r.status_code == 200, r.text
    yield w
    http.close()
    transport.close()


def state(backend) -> tuple:
    """What a refused request must leave as it was."""
    with backend.read_sessions() as s:
        return (s.scalar(select(func.count()).select_from(AuditEntry)),
                tuple(s.execute(select(Institution.code, Institution.version, Institution.region).order_by(Institution.id))),
                tuple(s.execute(select(ApiToken.id, ApiToken.revoked_at).order_by(ApiToken.id))))


def call(w: World, caller: str, method: str, path: str, body: dict | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {w.tokens[caller]}"} if w.tokens[caller] else {}
    return w.http.request(method, path, json=body, headers=headers)


def test_every_core_route_has_a_rule(app):
    assert core_routes(app) == set(RULES), "a core route without a role rule (or a rule for a route that is gone)"


@pytest.mark.parametrize("route", list(RULES), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_answers_each_caller_as_the_rules_say(world, route):
    rule = RULES[route]
    for caller in CALLERS:
        method, path, body = rule.call(world, caller if caller in ROLES else "admin")
        before = state(world.backend)
        r = call(world, caller, method, path, body)
        expected = rule.expected(caller)
        assert r.status_code == expected, f"{caller}: {method} {path} -> {r.status_code} {r.text}"
        if expected in (401, 403):
            assert r.headers["content-type"].startswith("application/problem+json")
            assert state(world.backend) == before, f"{caller}: a refused request changed something"
            if expected == 401:
                assert r.headers.get("WWW-Authenticate") == "Bearer"
        elif rule.check:
            rule.check(world, caller, r)


def test_refusals_say_why(world):
    r = call(world, "helpdesk", "POST", "/api/v1/institutions", {"code": "X1", "name": "X one", "kind": "other"})
    assert r.json()["detail"] == "the helpdesk role is read-only"
    r = call(world, "operator", "PATCH", "/api/v1/institutions/TRA", {"region": "Dodoma"})
    assert r.json()["detail"] == "this token may not change resources of institution TRA"
    r = call(world, "operator", "POST", "/api/v1/tokens", {"subject": "x", "role": "admin"})
    assert r.json()["detail"] == "this needs the admin role; this token has operator"
    assert call(world, "expired_token", "GET", "/api/v1/institutions", None).json()["detail"] == "the token has expired"
    assert "revoked" in call(world, "revoked_token", "GET", "/api/v1/institutions", None).json()["detail"]
    assert call(world, "no_token", "GET", "/api/v1/institutions", None).json()["detail"] == "no bearer token was sent"


def test_an_operator_cannot_grant_itself_more(world):
    """Tokens are issued by admins only: an operator cannot mint one for another institution."""
    r = call(world, "operator", "POST", "/api/v1/tokens", {"subject": "me", "role": "operator", "institutions": ["TRA"]})
    assert r.status_code == 403


# -- the central rules, for every route of every mounted plugin -------------------------------


def api_routes(app) -> list[Mounted]:
    return [r for r in mounted_routes(app) if r.path.startswith("/api/")]


def own_authentication(route: Mounted) -> bool:
    """A route that authenticates its callers itself (SDK 2.2, e.g. the GovESB emulator's engine, whose
    callers hold the bus's tokens): no egactl token is read for it, so these generic checks do not
    apply; tests/core/test_plugin_own_auth.py checks the frame's side, the plugin its own rules."""
    return getattr(route.endpoint, "__egactl_own_authentication__", False)


def concrete(path: str) -> str:
    """A path with its parameters filled in: the central checks run before any lookup."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_api_route_uses_the_scoped_route_class(app):
    """ApiRoute is where authentication, the helpdesk rule and the transaction live."""
    routes = api_routes(app)
    assert {"/api/v1/institutions", "/api/v1/tokens", "/api/v1/audit"} <= {r.path for r in routes}
    stray = [f"{sorted(r.methods)} {r.path}" for r in routes if not isinstance(r.route, ApiRoute)]
    assert stray == []
    others = {r.path for r in mounted_routes(app) if not r.path.startswith("/api/")}
    assert others <= {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


@pytest.mark.parametrize("caller", UNAUTHENTICATED)
def test_no_route_answers_without_a_valid_token(world, app, caller, monkeypatch):
    # Every route, one failed authentication each: the per-address limit on failures
    # (429 after a few a minute; tested in test_tokens.py) would answer most of them.
    monkeypatch.setenv("EGACTL_AUTH_FAILURES_PER_MINUTE", "0")
    before = state(world.backend)
    wrong = []
    routes = api_routes(app)
    assert core_routes(app) <= {(m, r.path) for r in routes for m in r.methods}
    for route in routes:
        if own_authentication(route):
            continue
        for method in route.methods:
            r = call(world, caller, method, concrete(route.path), {} if method in MUTATING else None)
            if r.status_code != 401:
                wrong.append(f"{method} {route.path} -> {r.status_code}")
    assert wrong == []
    assert state(world.backend) == before


def test_helpdesk_cannot_mutate_through_any_route(world, app):
    before = state(world.backend)
    wrong = []
    routes = api_routes(app)
    assert {("POST", "/api/v1/institutions"), ("DELETE", "/api/v1/tokens/{token_id}")} <= {
        (m, r.path) for r in routes for m in r.methods}
    for route in routes:
        if getattr(route.endpoint, "__egactl_helpdesk_allowed__", False) or own_authentication(route):
            continue
        for method in route.methods & MUTATING:
            r = call(world, "helpdesk", method, concrete(route.path), {})
            if r.status_code != 403 or r.json().get("detail") != "the helpdesk role is read-only":
                wrong.append(f"{method} {route.path} -> {r.status_code}")
    assert wrong == []
    assert state(world.backend) == before
