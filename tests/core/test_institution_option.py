"""`-i/--institution` is one option in every plugin, checked as it is typed: a code
becomes part of API paths, so `RITA/x` or `../pools` never reaches one."""

from __future__ import annotations

import pytest

LISTINGS = [("govnet", "sites", "list"), ("dr", "systems", "list"), ("ussd", "list"), ("sms", "list"),
            ("mail", "list")]


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
@pytest.mark.parametrize("code", ["RITA/x", "../pools", "RITA?x=1", "A B"])
def test_a_bad_institution_code_is_a_usage_error_in_every_plugin(cli, command, code):
    r = cli(*command, "-i", code)
    assert r.exit_code == 2, r.stdout
    assert r.stdout == ""
    assert r.stderr.startswith("error: --institution: institution code") and r.stderr.count("\n") == 1
    assert "must be 2-32 letters, digits or '-'" in r.stderr


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
def test_a_good_code_is_taken_in_any_case(cli, command):
    assert cli(*command, "-i", "rita", "-o", "json").exit_code == 0


def test_a_bad_default_institution_names_where_it_came_from(cli, monkeypatch):
    monkeypatch.setenv("EGACTL_INSTITUTION", "RITA/x")
    r = cli("sms", "send", "Habari", "--to", "0754123456", "--from", "RITA")
    assert r.exit_code == 2
    assert "the profile's institution" in r.stderr and "'RITA/X'" in r.stderr
