"""govnet import: bulk onboarding from a CSV through the core's bulk machinery."""

from __future__ import annotations

import csv

from sqlalchemy import func, select

from egactl_govnet.server.models import Onboarding, Site

HEADER = "institution,site,region,district,contact_phone,bandwidth,prefix_length,pop\n"


def pools(cli):
    for args in (("dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899", "--region", "Dodoma"),
                 ("arusha-1", "10.40.0.0/16", "--vlans", "ARUSHA=100-899", "--region", "Arusha")):
        r = cli("govnet", "pools", "create", *args)
        assert r.exit_code == 0, r.stderr


def counts(backend):
    with backend.read_sessions() as s:
        return (s.scalar(select(func.count()).select_from(Site)), s.scalar(select(func.count()).select_from(Onboarding)))


def test_import_creates_sites_and_requests_and_is_idempotent(cli, backend, tmp_path):
    pools(cli)
    path = tmp_path / "sites.csv"
    path.write_text(HEADER +
                    "RITA,dodoma-hq,Dodoma,Dodoma CBD,0754123456,20M,,\n"
                    "rita,arusha,arusha,Arusha Urban,,10M,28,ARUSHA\n"
                    "TRA,dodoma,Dodoma,,,1G,27,\n", encoding="utf-8-sig")
    results = tmp_path / "results.csv"
    r = cli("govnet", "import", str(path), "--results", str(results), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["statuses"] == {"requested": 3} and r.json()["failed"] == 0
    assert counts(backend) == (3, 3)
    rows = list(csv.DictReader(results.open()))
    assert [row["status"] for row in rows] == ["requested"] * 3
    arusha = cli("govnet", "sites", "show", "RITA/arusha", "-o", "json").json()["onboarding"]
    assert (arusha["pool"], arusha["pop"], arusha["prefix_length"], arusha["bandwidth"]) == ("arusha-1", "ARUSHA", 28, "10M")
    again = cli("govnet", "import", str(path), "-o", "json")
    assert again.exit_code == 0 and again.json()["statuses"] == {"exists": 3}
    assert counts(backend) == (3, 3)


def test_invalid_rows_are_reported_by_line_and_nothing_is_sent(cli, backend, tmp_path):
    pools(cli)
    path = tmp_path / "sites.csv"
    path.write_text(HEADER +
                    "RITA,ok,Dodoma,,,20M,,\n"
                    "RITA,bad-rate,Dodoma,,,20MB/s,,\n"
                    "RITA,bad-pop,Dodoma,,,20M,,NOWHERE\n"
                    "RITA,ok,Dodoma,,,20M,,\n")
    r = cli("govnet", "import", str(path))
    assert r.exit_code == 2
    assert "line 3: bandwidth: bandwidth '20MB/s' is not a rate" in r.stderr
    assert "line 4: pop: unknown PoP 'NOWHERE'" in r.stderr
    assert "line 5: duplicate of line 2 (RITA/ok)" in r.stderr
    assert counts(backend) == (0, 0)
    r = cli("govnet", "import", str(path), "--skip-invalid", "-o", "json")
    assert r.exit_code == 0 and r.json()["sent"] == 1 and r.json()["invalid"] == 3
    assert counts(backend) == (1, 1)


def test_rows_the_backend_refuses_fail_alone(cli, backend, tmp_path):
    pools(cli)
    path = tmp_path / "sites.csv"
    path.write_text(HEADER +
                    "RITA,fine,Dodoma,,,20M,,\n"
                    "TRA,not-mine,Dodoma,,,20M,,\n"
                    "RITA,too-big,Dodoma,,,20M,12,\n"
                    "NOPE,ghost,Dodoma,,,20M,,\n")
    results = tmp_path / "results.jsonl"
    r = cli("govnet", "import", str(path), "--results", str(results), role="operator")
    assert r.exit_code == 6, r.stderr
    import json

    by_line = {row["line"]: row for row in map(json.loads, results.read_text().splitlines())}
    assert by_line[2]["status"] == "requested"
    assert by_line[3]["status"] == "failed" and "may not change resources of institution TRA" in by_line[3]["error"]
    assert by_line[4]["status"] == "failed" and "larger than the pool" in by_line[4]["error"]
    assert by_line[5]["status"] == "failed"
    # The failed row's site was not left behind half-done.
    assert counts(backend) == (1, 1)


def test_a_row_over_the_apis_own_limits_fails_alone(cli, backend, tmp_path):
    """The backend's field limits (a district is at most 64 characters) fail that row, not the chunk."""
    pools(cli)
    path = tmp_path / "sites.csv"
    path.write_text(HEADER +
                    "RITA,fine,Dodoma,Dodoma CBD,,20M,,\n"
                    f"RITA,long,Dodoma,{'x' * 65},,20M,,\n")
    results = tmp_path / "results.csv"
    r = cli("govnet", "import", str(path), "--results", str(results))
    assert r.exit_code == 6, r.stderr
    rows = {row["line"]: row for row in csv.DictReader(results.open())}
    assert rows["2"]["status"] == "requested"
    assert rows["3"]["status"] == "failed" and "district" in rows["3"]["error"] and "64" in rows["3"]["error"]
    assert counts(backend) == (1, 1)
