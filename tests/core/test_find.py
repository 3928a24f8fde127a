"""egactl find: the core's part — what a term is, the institutions' answer, the fan-out to every plugin."""

from __future__ import annotations

import threading

import pytest
from fastapi import APIRouter

from egactl.plugin import BackendPart
from egactl.plugin.rules import name_matches, name_tokens
from egactl.server.find import Found, recognise


@pytest.mark.parametrize("text, kinds", [
    ("0754 123 456", {"phone"}),  # spaces: not digits only
    ("0754123456", {"phone", "digits", "code"}),
    ("+255754123456", {"phone"}),
    ("Asha.Said@TRA.go.tz", {"email"}),
    ("10.20.3.17", {"ip"}),
    ("10.20.0.0/16", {"ip"}),
    ("https://crvs.rita.go.tz/health", {"host"}),
    ("crvs.rita.go.tz", {"host", "code"}),
    ("juma mr", {"words"}),
    ("Ngʼwanza", {"words"}),
    ("RITA", {"words", "code"}),
    ("*152*07#", set()),  # a plugin's own form: it reads term.text
    ("12345678", {"digits", "code"}),
])
def test_recognise_names_every_reading(text, kinds):
    assert set(recognise(text).kinds) == kinds


def test_recognised_values_are_normalised():
    t = recognise(" 0754-123-456 ")
    assert t.phone == "+255754123456" and t.text == "0754-123-456"
    assert recognise("Asha.Said@TRA.go.tz").email == "asha.said@tra.go.tz"
    assert str(recognise("10.20.3.17").ip) == "10.20.3.17/32"
    assert str(recognise("10.20.3.17/16").ip) == "10.20.0.0/16"
    assert recognise("HTTPS://CRVS.rita.go.tz:8443/x").host == "crvs.rita.go.tz"
    assert recognise("juma MR").words == ("juma", "mr")


@pytest.mark.parametrize("query, name, matches", [
    ("juma mr", "Juma Mrisho", True),
    ("Mrisho Juma", "Juma Mrisho", True),
    ("JUMA", "Juma Mrisho", True),
    ("ngʼwanza", "Neema Ng'wanza", True),
    ("ngwanza", "Neema Ngʼwanza", True),
    ("Éric", "Eric Mushi", True),
    ("eric", "Éric Mushi", True),
    ("mr mr", "Juma Mrisho", False),
    ("juma x", "Juma Mrisho", False),
    ("", "Juma Mrisho", False),
])
def test_name_matching(query, name, matches):
    assert name_matches(query, name) is matches


def test_name_tokens_drop_diacritics_apostrophes_and_case():
    assert name_tokens("Ngʼwanza Mrisho-Juma") == ["ngwanza", "mrisho", "juma"]


def test_an_institution_by_code_and_by_part_of_its_name(cli):
    r = cli("find", "RITA", "-o", "json")
    assert r.exit_code == 0, r.stderr
    first = r.json()[0]
    assert (first["service"], first["kind"], first["reference"], first["rank"]) == ("institutions", "institution", "RITA", 100)
    assert first["command"] == "egactl institutions show RITA"
    r = cli("find", "revenue", "--service", "institutions", "-o", "json")
    assert [f["reference"] for f in r.json()] == ["TRA"]
    assert "Tanzania Revenue Authority" in r.json()[0]["summary"]


def test_nothing_found_is_exit_3_in_one_line(cli):
    r = cli("find", "zzzz-nothing-like-this", "--service", "institutions")
    assert r.exit_code == 3
    assert r.stderr.strip().splitlines()[0].startswith("error: nothing found for 'zzzz-nothing-like-this'")


def test_an_unknown_service_is_refused(cli):
    r = cli("find", "RITA", "--service", "nosuch")
    assert r.exit_code == 2
    assert "no service named nosuch" in r.stderr


def _mount(backend, name, finder):
    backend.parts[name] = BackendPart(router=APIRouter(), find=finder)


def test_every_plugin_is_asked_in_parallel_and_results_grouped_by_best_match(cli, backend):
    both_running = threading.Barrier(2, timeout=5)  # only passes if the two finders run at once

    def first(term, limit):
        both_running.wait()
        return [Found("thing", "a-1", "partial", "egactl a show a-1", rank=40)]

    def second(term, limit):
        both_running.wait()
        from egactl.plugin.server import principal

        return [Found("widget", term.code, f"exact, asked by {principal().role}", "egactl b show", rank=100),
                Found("widget", "other", "partial", "egactl b show other", rank=30)]

    _mount(backend, "alpha", first)
    _mount(backend, "beta", second)
    r = cli("find", "XYZ", "--service", "alpha", "--service", "beta", "-o", "json", role="helpdesk")
    assert r.exit_code == 0, r.stderr
    assert [(f["service"], f["reference"]) for f in r.json()] == [("beta", "XYZ"), ("beta", "other"), ("alpha", "a-1")]
    assert r.json()[0]["summary"] == "exact, asked by helpdesk"


def test_a_failing_or_slow_plugin_is_named_and_the_others_still_answer(cli, backend):
    release = threading.Event()

    def broken(term, limit):
        raise RuntimeError("boom")

    def slow(term, limit):
        release.wait(10)
        return []

    def fine(term, limit):
        return [Found("thing", "t-1", "here", "egactl fine show t-1")]

    _mount(backend, "broken", broken)
    _mount(backend, "slow", slow)
    _mount(backend, "fine", fine)
    backend.overrides["find.timeout"] = 0.5
    try:
        r = cli("find", "anything", "--service", "broken", "--service", "slow", "--service", "fine")
    finally:
        release.set()
    assert r.exit_code == 6
    assert "t-1" in r.stdout
    assert "broken: failed; the server log has the details; its results are missing" in r.stderr
    assert "slow: did not answer within 0.5 s" in r.stderr
    assert "boom" not in r.stdout + r.stderr


def test_a_plugin_finder_sees_only_what_the_caller_may_read(cli, backend):
    def scoped(term, limit):
        from egactl.plugin.server import visible, db, Institution
        from sqlalchemy import select

        codes = db().scalars(visible(select(Institution.code), Institution.code).order_by(Institution.code)).all()
        return [Found("institution-seen", c, "", "") for c in codes][:limit]

    _mount(backend, "scoped", scoped)
    seen = {f["reference"] for f in cli("find", "x", "--service", "scoped", "--limit", "50", "-o", "json",
                                        role="operator").json()}
    assert seen == {"RITA"}


@pytest.mark.parametrize("words", ["rev tanz", "Tanzania revenue", "REVENUE", "authority revenue"])
def test_an_institution_is_found_by_the_words_of_its_name_in_any_order(cli, words):
    for args in (("find", words, "--service", "institutions"), ("institutions", "list", "-S", words)):
        r = cli(*args, "-o", "json")
        assert r.exit_code == 0, r.stderr
        assert "TRA" in [i.get("reference", i.get("code")) for i in r.json()], args


def test_an_institutions_contact_address_names_it(cli):
    r = cli("find", "Info@TRA.go.tz", "--service", "institutions", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [(f["reference"], f["rank"]) for f in r.json()] == [("TRA", 100)]
