"""`dr systems list -S TEXT` finds a system by its name as `egactl find` matches names
(the words as starts of the name's words, any order or case), besides what it found
before (a part of the name or of the hosting), through the real backend."""

from __future__ import annotations

import pytest

ADD = ("--hosting", "gdc-dodoma", "--primary", "https://crvs.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")


@pytest.fixture
def systems(cli):
    for ref, hosting in (("RITA/crvs-portal", "gdc-dodoma"), ("RITA/birth-registration", "gdc-dodoma"),
                         ("TRA/e-filing", "tra-dc"), ("TRA/crvs-bridge", "tra-dc")):
        r = cli("dr", "systems", "create", ref, "--hosting", hosting, "--primary", "https://x.go.tz/health",
                "--rpo", "15m", "--rto", "4h")
        assert r.exit_code == 0, r.stderr


def listed(cli, text, role="admin"):
    r = cli("dr", "systems", "list", "-S", text, "-o", "json", role=role)
    assert r.exit_code == 0, r.stderr
    return sorted(s["system"] for s in r.json())


@pytest.mark.parametrize("text", ["portal crvs", "CRVS Por", "po cr", "Portal"])
def test_the_words_of_a_name_in_any_order_and_case_find_it(cli, systems, text):
    assert listed(cli, text) == ["RITA/crvs-portal"]


def test_every_word_must_start_a_different_word_of_the_name(cli, systems):
    assert listed(cli, "crvs crvs") == []
    assert listed(cli, "reg birth") == ["RITA/birth-registration"]
    assert listed(cli, "istration birth") == []  # a word's start, not its middle


def test_what_it_found_before_it_still_finds(cli, systems):
    assert listed(cli, "rtal") == ["RITA/crvs-portal"]  # a part of the name
    assert listed(cli, "TRA-DC") == ["TRA/crvs-bridge", "TRA/e-filing"]  # a part of the hosting
    assert listed(cli, "crvs") == ["RITA/crvs-portal", "TRA/crvs-bridge"]


def test_an_operator_finds_only_its_institutions(cli, systems):
    assert listed(cli, "crvs", role="operator") == ["RITA/crvs-portal"]
    assert listed(cli, "bridge crvs", role="operator") == []
    assert listed(cli, "bridge crvs", role="operator_tra") == ["TRA/crvs-bridge"]
