"""Bad requests get a 4xx that says what is wrong, never a 500 — and bad arguments
never leave the CLI.

The backend guarantees live in the route frame (``egactl.server.inputs``), so
each is shown here on routes of different plugins, on SQLite and on PostgreSQL
(where NUL and 32-bit ids used to fail in the database). The commands are the
real ones (``egactl api`` for raw requests), run in-process against the real
backend.
"""

from __future__ import annotations

import json

import pytest

from conftest import Cli

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def api(request, tmp_path, clock):
    """The `cli` fixture, on SQLite or on PostgreSQL."""
    from egactl.server.app import create_app
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core

    url = f"sqlite:///{tmp_path / 'b.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    app = create_app(url, clock=clock)
    be = app.state.backend
    with be.write_sessions() as session:
        seed_core(session, be.now())
        tokens = {"admin": issue_token(session, subject="admin@ega.go.tz", role="admin", now=be.now())[0],
                  "operator": issue_token(session, subject="ops@rita.go.tz", role="operator", institutions=["RITA"],
                                          now=be.now())[0],
                  "helpdesk": issue_token(session, subject="hd@ega.go.tz", role="helpdesk", now=be.now())[0]}
        session.commit()
    runner = Cli(app, tokens)
    yield runner
    runner.close()
    be.engine.dispose()


def one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# -- ids beyond the column's range: 404 --------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/v1/sms/messages/{id}",
    "/api/v1/sms/batches/{id}",
    "/api/v1/govnet/onboardings/{id}",
])
@pytest.mark.parametrize("number", ["2147483648", "9223372036854775808", "99999999999999999999"])
def test_id_beyond_the_column_range_is_not_found(api, path, number):
    r = api("api", "GET", path.format(id=number))
    assert r.exit_code == 3, r.stderr
    assert "not found" in one_line(r) and number in r.stderr


def test_revoking_a_token_id_beyond_the_column_range_is_not_found(api):
    r = api("api", "DELETE", "/api/v1/tokens/99999999999999999999")
    assert r.exit_code == 3 and "token 99999999999999999999 not found" in one_line(r)
    assert api("auth", "status").exit_code == 0  # nothing was revoked


def test_integer_filter_beyond_64_bits_is_invalid(api):
    r = api("api", "GET", "/api/v1/sms/messages", "-f", "batch=99999999999999999999")
    assert r.exit_code == 2, r.stderr
    assert "batch: out of range" in one_line(r)


def test_integer_in_a_body_beyond_64_bits_is_invalid(api, tmp_path):
    body = tmp_path / "body.json"
    body.write_text('{"code": "ZZA", "name": "Zed Agency", "kind": "agency", "region": null, "n": 99999999999999999999}')
    r = api("api", "POST", "/api/v1/institutions", "--input", str(body))
    assert r.exit_code == 2 and "n: out of range" in one_line(r)
    assert api("institutions", "show", "ZZA").exit_code == 3


# -- NUL anywhere in text: 422 -------------------------------------------------------


def test_nul_in_a_text_field_is_invalid_and_nothing_is_stored(api, tmp_path):
    # The command refuses a control character itself; the raw request shows the server does too.
    assert api("institutions", "create", "ZZB", "--name", "Zed\x00Agency", "--kind", "agency").exit_code == 2
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"code": "ZZB", "name": "Zed\u0000Agency", "kind": "agency"}))
    r = api("api", "POST", "/api/v1/institutions", "--input", str(body))
    assert r.exit_code == 2, r.stderr
    assert "name: must not contain NUL" in one_line(r)
    assert api("institutions", "show", "ZZB").exit_code == 3


def test_nul_in_a_nested_body_field_is_invalid(api, tmp_path):
    body = tmp_path / "bulk.json"
    body.write_text(json.dumps({"items": [{"line": 2, "code": "ZZC", "name": "Zed", "kind": "agency"},
                                          {"line": 3, "code": "ZZD", "name": "Zed\u0000", "kind": "agency"}]}))
    r = api("api", "POST", "/api/v1/institutions/bulk", "--input", str(body))
    assert r.exit_code == 2 and "items.1.name: must not contain NUL" in one_line(r)
    assert api("institutions", "show", "ZZC").exit_code == 3


@pytest.mark.parametrize("args", [
    ["institutions", "list", "--search", "R\x00"],
    ["api", "GET", "/api/v1/audit", "-f", "actor=a\x00"],
    ["api", "GET", "/api/v1/mail/mailboxes", "-f", "department=\x00"],
    ["api", "GET", "/api/v1/institutions/RI%00TA"],
])
def test_nul_in_a_filter_or_path_is_invalid(api, args):
    r = api(*args)
    assert r.exit_code == 2, r.stderr
    assert "must not contain NUL" in one_line(r)


# -- a non-string where a string is expected: 422 ------------------------------------


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/mail/domains", {"institution": "RITA", "domain": 5}, "domain"),
    ("/api/v1/mail/lists", {"institution": "RITA", "address": {}, "name": "All staff"}, "address"),
    ("/api/v1/mail/mailboxes/bulk", {"items": [{"line": 2, "institution": "RITA", "employee_number": "1",
                                                 "given_name": "Juma", "family_name": "Mrisho", "address": ["x"]}]},
     "items.0.address"),
    ("/api/v1/institutions", {"code": 7, "name": "Seven", "kind": "agency"}, "code"),
])
def test_non_string_where_a_string_is_expected_is_invalid(api, tmp_path, path, body, field):
    file = tmp_path / "body.json"
    file.write_text(json.dumps(body))
    r = api("api", "POST", path, "--input", str(file))
    assert r.exit_code == 2, r.stderr
    assert f"{field}: must be a string" in one_line(r)


# -- the CLI: refused before anything is sent ----------------------------------------


@pytest.mark.parametrize("args, noun", [
    (["institutions", "show", ""], "institution"),
    (["institutions", "show", "  "], "institution"),
    (["mail", "show", ""], "mailbox"),
    (["mail", "list-group", "show", ""], "list"),
])
def test_empty_path_argument_is_a_usage_error(cli, args, noun):
    r = cli(*args)
    assert r.exit_code == 2
    assert one_line(r).startswith(f"error: no {noun} given")


def test_empty_argument_to_a_mutation_changes_nothing(cli):
    r = cli("institutions", "delete", "", "--yes")
    assert r.exit_code == 2 and "no institution given" in one_line(r)
    assert len(cli("institutions", "list", "-o", "json").json()) == 8


def test_id_beyond_64_bits_is_a_usage_error(cli):
    r = cli("sms", "show", "99999999999999999999")
    assert r.exit_code == 2
    assert one_line(r) == "error: ID 99999999999999999999 is out of range; give a whole number up to 9223372036854775807"


def test_id_beyond_the_column_range_is_not_found_from_the_cli(api):
    r = api("sms", "show", "2147483648")
    assert r.exit_code == 3 and "message 2147483648 not found" in one_line(r)


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_a_usage_error(cli, query):
    r = cli("institutions", "list", "--query", query)
    assert r.exit_code == 2 and r.stdout == ""
    assert one_line(r).startswith("error: --query is empty")


def test_bad_query_refuses_before_a_change_is_made(cli):
    for query in ("", "code[[["):
        r = cli("institutions", "create", "ZZE", "--name", "Zed Agency", "--kind", "agency", "--query", query)
        assert r.exit_code == 2, r.stderr
        assert "--query" in one_line(r)
    assert cli("institutions", "show", "ZZE").exit_code == 3


def test_empty_query_as_json_error(cli):
    r = cli("-o", "json", "institutions", "list", "--query", "")
    assert r.exit_code == 2
    assert json.loads(one_line(r))["error"] == "invalid_input"


# -- the contract ------------------------------------------------------------------


def test_every_route_documents_its_problem_responses(app):
    doc = app.openapi()
    problem = doc["components"]["schemas"]["ProblemDetails"]
    assert {"title", "status", "detail"} <= set(problem["required"])
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            codes = set(op["responses"])
            expected = {"401", "403", "429", "503"}
            if op.get("parameters"):
                expected |= {"404", "422"}
            if "requestBody" in op:
                expected |= {"400", "422"}
            if method in ("post", "put", "patch", "delete"):
                expected |= {"404", "409", "412"}
            assert expected <= codes, (method, path, codes)
            for code in codes - {"200", "201", "204"}:
                content = op["responses"][code]["content"]
                assert list(content) == ["application/problem+json"], (method, path, code)
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}


# -- what the database still refuses: 422, not 500 -----------------------------------


def test_value_the_database_refuses_is_invalid_not_a_server_error(request, tmp_path, clock, caplog):
    """A plugin route that forgot a bound: PostgreSQL refuses the value (NumericValueOutOfRange),
    and the frame answers 422 — with a warning naming the route for its developer."""
    from fastapi import APIRouter
    from sqlalchemy import text

    from egactl.server.app import create_app
    from egactl.server.scope import ApiRoute, db
    from egactl.server.security import issue_token

    router = APIRouter(route_class=ApiRoute)

    @router.get("/small")
    def small(value: int):
        return {"value": db().execute(text("SELECT CAST(:v AS smallint)"), {"v": value}).scalar()}

    app = create_app(request.getfixturevalue("postgres_url"), clock=clock)
    app.include_router(router, prefix="/api/v1/unbounded")
    be = app.state.backend
    with be.write_sessions() as session:
        token = issue_token(session, subject="admin@ega.go.tz", role="admin", now=be.now())[0]
        session.commit()
    runner = Cli(app, {"admin": token})
    try:
        assert runner("api", "GET", "/api/v1/unbounded/small", "-f", "value=7").exit_code == 0
        r = runner("api", "GET", "/api/v1/unbounded/small", "-f", "value=40000")
        assert r.exit_code == 2, r.stderr
        assert "does not fit what the database can store" in one_line(r)
        assert any("/api/v1/unbounded/small" in rec.getMessage() for rec in caplog.records)
    finally:
        runner.close()
        be.engine.dispose()
