"""`egactl api`: an authenticated raw request for scripts, against the real backend."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from egactl.server.models import ApiToken, Institution


def stored(backend, code):
    with backend.read_sessions() as s:
        return s.scalar(select(Institution).where(Institution.code == code))


def test_get_with_query_fields(cli):
    r = cli("api", "GET", "institutions", "-f", "kind=LGA")
    assert r.exit_code == 0, r.stderr
    assert [i["code"] for i in r.json()["items"]] == ["KINONDONI-MC", "ARUSHA-CC"]
    r = cli("api", "GET", "/api/v1/institutions", "-F", "limit=2")
    page = r.json()
    assert len(page["items"]) == 2 and page["next_cursor"]


def test_paginate_follows_cursors_with_limit_as_page_size(cli, backend):
    with backend.read_sessions() as s:
        total = len(s.scalars(select(Institution.code)).all())
    r = cli("api", "GET", "institutions", "--paginate", "-f", "limit=3")
    assert r.exit_code == 0, r.stderr
    assert len(r.json()) == total  # all of them, three to a page
    r = cli("api", "GET", "institutions", "--paginate", "-f", "kind=LGA", "--query", "[].code")
    assert r.json() == ["KINONDONI-MC", "ARUSHA-CC"]
    r = cli("api", "POST", "institutions", "--paginate")
    assert r.exit_code == 2 and "GET only" in r.stderr


def test_paginate_sends_any_field_name_to_the_api(cli, backend):
    # names the client's own paging takes as keywords (page_size, path, listing) are query fields like any other
    with backend.read_sessions() as s:
        total = len(s.scalars(select(Institution.code)).all())
    for name in ("page_size", "path", "listing"):
        r = cli("api", "GET", "institutions", "--paginate", "-f", f"{name}=3", "-f", "limit=2")
        assert r.exit_code == 0, r.stderr
        assert len(r.json()) == total
    r = cli("api", "GET", "institutions?kind=LGA", "--paginate", "-F", "region=null", "-f", "limit=1", "--query", "[].code")
    assert r.exit_code == 0 and r.json() == ["KINONDONI-MC", "ARUSHA-CC"]  # the path's own query kept; null: not sent


def test_post_fields_become_the_json_body(cli, backend):
    r = cli("api", "POST", "institutions", "-f", "code=zanz", "-f", "name=Revolutionary Government of Zanzibar",
            "-f", "kind=other", "-f", "region=Unguja")
    assert r.exit_code == 0, r.stderr
    assert r.json()["code"] == "ZANZ"
    row = stored(backend, "ZANZ")
    assert row.name == "Revolutionary Government of Zanzibar" and row.region == "Unguja"


def test_typed_fields_and_file_values(cli, backend, clock, tmp_path):
    (tmp_path / "subject.txt").write_text("robot@ega.go.tz")
    r = cli("api", "POST", "tokens", "-F", f"subject=@{tmp_path / 'subject.txt'}", "-f", "role=helpdesk",
            "-F", "expires_in_days=30")
    assert r.exit_code == 0, r.stderr
    created = r.json()
    assert created["subject"] == "robot@ega.go.tz"
    with backend.read_sessions() as s:
        row = s.get(ApiToken, created["id"])
    assert row.expires_at - clock.now == dt.timedelta(days=30)
    # -f keeps text as text: "thirty" where the API wants a number is refused (422 → 2)
    r = cli("api", "POST", "tokens", "-f", "subject=x", "-f", "role=helpdesk", "-f", "expires_in_days=thirty")
    assert r.exit_code == 2


def test_input_file_and_stdin(cli, backend, tmp_path):
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"code": "MUHAS", "name": "Muhimbili University", "kind": "other"}))
    r = cli("api", "POST", "institutions", "--input", str(body))
    assert r.exit_code == 0, r.stderr
    assert stored(backend, "MUHAS").name == "Muhimbili University"
    r = cli("api", "PATCH", "institutions/MUHAS", "--input", "-", input=json.dumps({"region": "Dar es Salaam"}))
    assert r.exit_code == 0, r.stderr
    assert stored(backend, "MUHAS").region == "Dar es Salaam"


def test_include_prints_status_and_headers(cli):
    r = cli("api", "GET", "institutions/RITA", "--include")
    assert r.exit_code == 0
    head, _, body = r.stdout.partition("\n\n")
    lines = head.splitlines()
    assert lines[0] == "HTTP/1.1 200 OK"
    assert 'etag: "v1"' in lines
    assert json.loads(body)["code"] == "RITA"


@pytest.mark.parametrize("args,role,code", [
    (("GET", "institutions/NOPE"), "admin", 3),
    (("POST", "institutions", "-f", "code=RITA", "-f", "name=Again", "-f", "kind=agency"), "admin", 5),
    (("POST", "institutions", "-f", "code=NEWCO", "-f", "name=New Co", "-f", "kind=agency"), "helpdesk", 4),
    (("POST", "institutions", "-f", "code=NEWCO", "-f", "name=New Co", "-f", "kind=company"), "admin", 2),
    (("PATCH", "institutions/TRA", "-f", "region=Arusha"), "operator", 4),
])
def test_exit_code_follows_status(cli, backend, args, role, code):
    r = cli("api", *args, role=role)
    assert r.exit_code == code, r.stderr
    assert json.loads(r.stdout)["status"] in (400, 401, 403, 404, 409, 422)  # the problem document, for scripts
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    assert stored(backend, "NEWCO") is None
    assert stored(backend, "TRA").region == "Dar es Salaam"


def test_query_applies_to_the_answer(cli):
    r = cli("api", "GET", "institutions", "-f", "kind=LGA", "--query", "items[].region")
    assert r.json() == ["Dar es Salaam", "Arusha"]
    r = cli("--query", "code", "api", "GET", "institutions/UDOM")
    assert r.json() == "UDOM"


def test_explicit_idempotency_key_replays(cli, backend):
    args = ("api", "POST", "institutions", "-H", "Idempotency-Key: onboard-udsm-1", "-f", "code=UDSM",
            "-f", "name=University of Dar es Salaam", "-f", "kind=other")
    first, second = cli(*args), cli(*args)
    assert first.exit_code == 0 and second.exit_code == 0, second.stderr
    assert first.json() == second.json()
    other = cli("api", "POST", "institutions", "-H", "Idempotency-Key: onboard-udsm-1", "-f", "code=UDSM",
                "-f", "name=Another Name", "-f", "kind=other")
    assert other.exit_code == 2 and "Idempotency-Key" in other.stderr
    assert stored(backend, "UDSM").name == "University of Dar es Salaam"


@pytest.mark.parametrize("args,message", [
    (("FETCH", "institutions"), "unsupported method 'FETCH'"),
    (("GET", "institutions", "-f", "kind"), "field 'kind' must look like key=value"),
    (("GET", "institutions", "-H", "NoColon"), "header 'NoColon' must look like 'Name: value'"),
])
def test_usage_errors(cli, args, message):
    r = cli("api", *args)
    assert r.exit_code == 2
    assert message in r.stderr


def test_a_query_string_in_the_path_is_kept(cli):
    """httpx drops a URL's own query once params are given: `egactl api GET '/…?limit=2'`
    used to list everything."""
    r = cli("-o", "json", "api", "GET", "/api/v1/institutions?limit=2")
    assert r.exit_code == 0 and len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    both = cli("-o", "json", "api", "GET", "/api/v1/institutions?limit=2", "-f", "kind=agency")
    assert both.exit_code == 0 and len(both.json()["items"]) == 2
    assert all(i["kind"] == "agency" for i in both.json()["items"])
