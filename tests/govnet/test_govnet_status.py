"""govnet status: at most --limit institutions without an active site, and how many there are in all."""

from __future__ import annotations

SEEDED = 8  # the core seed's institutions; none has a GovNet site


def add_institutions(cli, n):
    for i in range(n):
        r = cli("institutions", "create", f"LGA{i:03d}", "--name", f"Council {i}", "--kind", "lga")
        assert r.exit_code == 0, r.stderr


def test_status_lists_at_most_limit_institutions_and_says_how_many_there_are(cli):
    add_institutions(cli, 32)
    total = SEEDED + 32
    r = cli("govnet", "status")
    assert r.exit_code == 0, r.stderr
    assert f"Institutions with no active site: {total}" in r.stdout
    listed = r.stdout.split("Institutions with no active site")[1].splitlines()[2:]
    assert len([line for line in listed if line.strip()]) == 30
    assert f"showing 30 of {total} institutions without an active site; --limit N or --all" in r.stderr

    few = cli("govnet", "status", "--limit", "3")
    assert few.exit_code == 0 and f"showing 3 of {total} institutions" in few.stderr
    assert "ARUSHA-CC" in few.stdout and "UDOM" not in few.stdout  # by code

    every = cli("govnet", "status", "--all")
    assert every.exit_code == 0 and "showing" not in every.stderr
    assert "UDOM" in every.stdout and "LGA031" in every.stdout

    data = cli("govnet", "status", "-L", "5", "-o", "json")
    assert data.exit_code == 0 and data.stderr == ""
    body = data.json()
    assert body["without_active_site_count"] == total and len(body["without_active_site"]) == 5
    assert len(cli("govnet", "status", "--all", "-o", "json").json()["without_active_site"]) == total


def test_status_says_nothing_more_when_every_one_is_shown(cli):
    r = cli("govnet", "status")
    assert r.exit_code == 0 and f"Institutions with no active site: {SEEDED}" in r.stdout
    assert "showing" not in r.stderr
    assert cli("govnet", "status", "--limit", "0").exit_code == 2
    scoped = cli("govnet", "status", "-L", "1", "-o", "json", role="operator_tra").json()
    assert scoped["without_active_site_count"] == 1 and [i["institution"] for i in scoped["without_active_site"]] == ["TRA"]
