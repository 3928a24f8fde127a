"""Error text in plain words: a field's rule speaks for itself (no pydantic "Value error, "),
and a field error the detail already names is not repeated after it."""

from __future__ import annotations


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
