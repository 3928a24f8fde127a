"""Error text in plain words: a field's rule speaks for itself (no pydantic "Value error, "),
and a field error the detail already names is not repeated after it."""

from __future__ import annotations

import pytest


def test_a_rejected_field_reads_as_the_rule_wrote_it_once(cli):
    r = cli("institutions", "create", "bad code!", "--name", "X", "--kind", "agency")
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert "Value error" not in line
    assert line.count("BAD CODE!") == 1  # the detail names it; the list of the others does not repeat it
    assert line.count("at least 2 characters") == 1  # the other field's error is still there, once


def test_the_api_problem_carries_the_plain_messages(cli):
    r = cli("institutions", "create", "bad code!", "--name", "Xy", "--kind", "agency", "-o", "json")
    import json

    problem = json.loads(r.stderr)["problem"]
    assert problem["errors"] == [{"field": "code", "message": problem["detail"].split("code: ", 1)[1]}]
    assert not problem["detail"].startswith("invalid request: code: Value error")


def _egactl(*args: str, **env: str):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "egactl", *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, **env})


def test_an_unreachable_api_is_named_with_its_port_and_where_the_url_came_from():
    from conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    r = _egactl("institutions", "list", EGACTL_API_URL=url, EGACTL_TOKEN="t0ken", EGACTL_RETRIES="1")
    assert r.returncode == 7
    assert f"the API at {url} could not be reached" in r.stderr
    assert "check api_url (from env EGACTL_API_URL)" in r.stderr
    assert "t0ken" not in r.stderr


def test_an_api_url_that_is_not_a_url_is_a_usage_error_naming_where_it_is():
    r = _egactl("institutions", "list", EGACTL_API_URL="api.ega.go.tz", EGACTL_TOKEN="t0ken")
    assert r.returncode == 2
    assert r.stderr.startswith("error: environment variable EGACTL_API_URL: api_url must be 'sandbox' or an http://")


@pytest.mark.parametrize("args,words", [
    (("institutions", "create", "ZZ", "--name", "X", "--kind", "agency", "--region", "Dodoma"),
     "name: must be at least 2 characters"),
    (("institutions", "create", "ZZ", "--name", "X", "--kind", "agency", "--region", "Dodoma", "--dry-run"),
     "name: must be at least 2 characters"),
])
def test_validation_errors_are_in_plain_words_not_pydantics(cli, args, words):
    """"String should have at least 2 characters" was pydantic's phrasing, shown as it was."""
    r = cli(*args)
    assert r.exit_code == 2 and words in r.stderr, r.stderr
    assert "should have" not in r.stderr and "String" not in r.stderr
    assert cli("-o", "json", "institutions", "show", "ZZ").exit_code == 3  # nothing stored
