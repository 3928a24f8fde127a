"""The API fuzzed against its own OpenAPI contract, with each role's token.

schemathesis generates requests from ``/openapi.json`` — boundary values of
every parameter and body field (its coverage phase: integers past 64 bits, NUL
characters, wrong types, missing fields) and random ones (its fuzzing phase,
valid and invalid data alike) — and checks every answer:

- ``not_a_server_error``: no 5xx, whatever was sent;
- ``response_schema_conformance``: every answer, errors included, matches the
  schema the contract declares for its status code;
- ``status_code_conformance``: every status code is one the route declares.

It runs in-process against SQLite (the ASGI app, as the sandbox runs it) and
against a real ``egactl serve`` on PostgreSQL, once per role (admin, an
operator of RITA, helpdesk), on a backend seeded with the sandbox's example
data so that lookups find something. The run is derandomized and bounded
(``EGACTL_FUZZ_EXAMPLES`` random examples per operation, default 5, on top of
the deterministic coverage cases) so that it is a stable gate, not a lottery;
raise the number locally to search harder.

Each operation that answered 5xx is counted and printed per backend and role
(``pytest -s``; schemathesis stops an operation at its first failure).
"""

from __future__ import annotations

import collections
import os
import threading

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

ROLES = ("admin", "operator", "helpdesk")
EXAMPLES = int(os.environ.get("EGACTL_FUZZ_EXAMPLES", "5"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
REVOKE = "DELETE /api/v1/tokens/{token_id}"

SERVER_ERRORS: dict[str, collections.Counter] = {}


def _config():
    return schemathesis.Config.from_dict({
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "no-shrink": True},
        "suppress-health-check": ["all"],
        "request-timeout": 60,  # a request that hangs fails the run instead of stalling it
    })


class Target:
    """One backend, one role: the schema to fuzz, the token to send, its own token id."""

    def __init__(self, name: str, schema, token: str, token_id: int, base_url: str | None = None):
        self.name, self.schema, self.token, self.token_id, self.base_url = name, schema, token, token_id, base_url
        SERVER_ERRORS[name] = collections.Counter()


def _seeded_app(url: str):
    from egactl.server.app import create_app

    return create_app(url, sandbox=True)


def _sqlite_target(tmp_path, role: str) -> Target:
    from egactl.server.security import issue_token

    app = _seeded_app(f"sqlite:///{tmp_path / 'fuzz.db'}")
    be = app.state.backend
    with be.write_sessions() as session:
        token, row = issue_token(session, subject=f"fuzz-{role}@ega.go.tz", role=role,
                                 institutions=["RITA"] if role == "operator" else [], now=be.now())
        session.commit()
        token_id = row.id
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config())
    return Target(f"sqlite/{role}", schema, token, token_id)


def _postgres_target(tmp_path, postgres_url: str, role: str):
    import httpx
    from conftest import start_server

    _seeded_app(postgres_url).state.backend.engine.dispose()
    server = start_server(tmp_path, postgres_url)
    # Read what the server writes: a pipe nobody reads fills up with logged tracebacks,
    # and then the server blocks in its logger and answers nothing more.
    server.log = collections.deque(maxlen=200)
    for stream in (server.proc.stdout, server.proc.stderr):
        threading.Thread(target=server.log.extend, args=(stream,), daemon=True).start()
    token = server.admin_token if role == "admin" else server.token(role, *(["RITA"] if role == "operator" else []))
    token_id = httpx.get(f"{server.url}/api/v1/tokens/self", headers={"Authorization": f"Bearer {token}"}).json()["id"]
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=_config())
    return Target(f"postgresql/{role}", schema, token, token_id, server.url), server


@pytest.fixture(params=[f"{db}/{role}" for db in ("sqlite", "postgresql") for role in ROLES])
def fuzz_target(request, tmp_path):
    db, role = request.param.split("/")
    server = None
    if db == "sqlite":
        target = _sqlite_target(tmp_path, role)
    else:
        target, server = _postgres_target(tmp_path, request.getfixturevalue("postgres_url"), role)
    yield target
    if server is not None:
        server.proc.terminate()
        server.proc.wait(timeout=10)
    counts = SERVER_ERRORS[target.name]
    print(f"\n{target.name}: {sum(counts.values())} responses with 5xx"
          + "".join(f"\n  {n:4d}  {label}" for label, n in counts.most_common()))


@pytest.fixture
def api_schema(fuzz_target):
    return fuzz_target.schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api_contract(case, fuzz_target):
    if case.operation.label == REVOKE and str(case.path_parameters.get("token_id")) == str(fuzz_target.token_id):
        # The fuzzer would revoke the very token it runs with, and every later request would be a 401.
        case.path_parameters["token_id"] = fuzz_target.token_id + 1_000_000
    headers = {"Authorization": f"Bearer {fuzz_target.token}"}
    response = case.call(base_url=fuzz_target.base_url, headers=headers)
    if response.status_code >= 500:
        SERVER_ERRORS[fuzz_target.name][case.operation.label] += 1
    case.validate_response(response, checks=CHECKS, headers=headers)

