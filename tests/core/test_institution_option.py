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


# -- the profile's default institution: one rule for every command ---------------------


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
def test_a_listing_narrowed_by_the_profile_institution_says_so(cli, monkeypatch, command):
    monkeypatch.setenv("EGACTL_INSTITUTION", "TRA")
    narrowed = cli(*command)
    assert narrowed.exit_code == 0, narrowed.stderr
    assert "showing TRA only (profile default); --all-institutions for all" in narrowed.stderr
    data = cli(*command, "-o", "json")
    assert data.exit_code == 0 and data.stderr == ""  # JSON: stderr only for failures
    everything = cli(*command, "--all-institutions", "-o", "json")
    assert everything.exit_code == 0 and "showing" not in everything.stderr
    given = cli(*command, "-i", "RITA")
    assert "profile default" not in given.stderr


def test_the_profile_institution_narrows_every_plugins_listing_the_same_way(cli, monkeypatch):
    """ussd list used to ignore the profile's institution while mail list obeyed it."""
    for inst, code in (("TRA", "21"), ("RITA", "22")):
        r = cli("ussd", "assign", "-i", inst, "-c", code, "--service", f"{inst} test", "--purpose", "testing",
                "--callback-url", "https://ussd.example.go.tz/app")
        assert r.exit_code == 0, r.stderr
    monkeypatch.setenv("EGACTL_INSTITUTION", "TRA")
    codes = cli("ussd", "list", "-o", "json").json()
    assert codes and all(c["institution"] == "TRA" for c in codes)
    assert any(c["institution"] != "TRA" for c in cli("ussd", "list", "--all-institutions", "-o", "json").json()
               if c.get("institution"))


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
def test_a_profile_institution_that_does_not_exist_is_an_error_not_an_empty_table(cli, monkeypatch, command):
    monkeypatch.setenv("EGACTL_INSTITUTION", "NOPE")
    r = cli(*command)
    assert r.exit_code == 3 and r.stdout == ""
    assert "the profile's institution" in r.stderr and "NOPE, which does not exist" in r.stderr
    assert r.stderr.count("\n") == 1
