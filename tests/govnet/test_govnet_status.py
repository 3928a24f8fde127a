"""govnet status: at most --limit institutions without an active site, and how many there are in all."""

from __future__ import annotations

import pytest

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


def test_status_watch_follows_the_pipeline_until_nothing_waits_on_ega(cli, backend):
    """--watch: the counts per state, then one line per state that changed, until no request waits."""
    import httpx

    assert cli("govnet", "pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899",
               "--region", "Dodoma").exit_code == 0
    assert cli("govnet", "sites", "create", "RITA/hq", "--region", "Dodoma").exit_code == 0
    assert cli("govnet", "onboard", "--site", "RITA/hq", "--bandwidth", "10M").exit_code == 0
    admin = httpx.Client(transport=cli.transport, base_url="http://backend",
                         headers={"Authorization": f"Bearer {cli.tokens['admin']}"})
    steps = iter([("approve", {}), ("offboard", {})])
    slept = []

    def meanwhile_someone_acts(seconds):
        slept.append(seconds)
        action, body = next(steps)
        assert admin.post(f"/api/v1/govnet/onboardings/1/{action}", json=body).status_code == 200

    r = cli("govnet", "status", "--watch", "2", sleep=meanwhile_someone_acts)
    assert r.exit_code == 0, r.stderr
    assert slept == [2.0, 2.0]
    lines = [line.split() for line in r.stdout.splitlines()]
    assert lines[0] == ["STATE", "COUNT"] and lines[1] == ["requested", "1"] and lines[4] == ["active", "0"]
    assert lines[7:] == [["requested", "0"], ["approved", "1"], ["approved", "0"], ["decommissioned", "1"]]

    settled = cli("govnet", "status", "--watch", "-o", "json", sleep=lambda s: pytest.fail("nothing to wait for"))
    assert settled.exit_code == 0 and settled.json()["counts"]["decommissioned"] == 1
    assert cli("govnet", "status", "--watch", "0.1").exit_code == 2
    admin.close()
