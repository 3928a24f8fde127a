"""dr check --watch [SECONDS] (issue 12 §3): check again and again until Ctrl-C; piped,
the first reading whole and then one line per system whose status or failing checks
changed; history records each change, not every reading."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from fakesites import FakeSites
from egactl_dr.server.models import DrCheckRun


@pytest.fixture
def sites():
    with FakeSites() as s:
        yield s


def add(cli, ref, primary, dr):
    r = cli("dr", "systems", "create", ref, "--hosting", "gdc-dodoma", "--primary", primary, "--dr", dr,
            "--dr-hosting", "gdc-dar", "--version-from", "json:version", "--rpo", "15m", "--rto", "4h")
    assert r.exit_code == 0, r.stderr


class Readings:
    """The watch's sleep: between readings, change what the sites answer; then Ctrl-C."""

    def __init__(self, *changes):
        self.changes = list(changes)
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if not self.changes:
            raise KeyboardInterrupt
        self.changes.pop(0)()


def runs(backend) -> list[str]:
    with backend.read_sessions() as s:
        return list(s.scalars(select(DrCheckRun.status).order_by(DrCheckRun.id)))


def test_piped_watch_prints_the_systems_then_a_line_per_change_and_records_changes_only(cli, backend, sites):
    versions = {"primary": "2.4.1", "dr": "2.4.1"}
    primary = sites.http(lambda: {"version": versions["primary"]})
    dr = sites.http(lambda: {"version": versions["dr"]})
    add(cli, "RITA/crvs", primary, dr)
    add(cli, "RITA/eoffice", sites.http(lambda: {"version": "1.0"}), sites.http(lambda: {"version": "1.0"}))

    def upgrade_only_the_primary():
        versions["primary"] = "2.5.0"

    sleep = Readings(lambda: None, upgrade_only_the_primary, lambda: None)
    r = cli("dr", "check", "-i", "RITA", "--watch", "2", "--timeout", "3", sleep=sleep)

    assert r.exit_code == 130, (r.stdout, r.stderr)
    assert sleep.slept == [2.0, 2.0, 2.0, 2.0]
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["SYSTEM", "STATUS", "NOT", "OK"]
    assert [line.split()[:2] for line in lines[1:3]] == [["RITA/crvs", "CRITICAL"], ["RITA/eoffice", "CRITICAL"]]
    # Four readings; only the version change of RITA/crvs is a change worth a line.
    assert len(lines) == 4 and "version CRITICAL" in lines[3] and lines[3].startswith("RITA/crvs")
    assert "version" not in lines[1]
    # Recorded: the first reading and the one that changed, not the two that did not.
    assert len(runs(backend)) == 2


def test_watch_without_seconds_waits_five_and_no_record_records_nothing(cli, backend, sites):
    add(cli, "RITA/crvs", sites.http({"version": "1"}), sites.http({"version": "1"}))
    sleep = Readings()
    r = cli("dr", "check", "--system", "RITA/crvs", "--watch", "--no-record", "-o", "json", sleep=sleep)
    assert r.exit_code == 130
    assert sleep.slept == [5.0]
    import json

    assert json.loads(r.stdout)[0]["system"] == "RITA/crvs"
    assert runs(backend) == []


def test_watch_refuses_what_is_for_a_single_run(cli, sites):
    add(cli, "RITA/crvs", sites.http({"version": "1"}), sites.http({"version": "1"}))
    for extra in (["--nagios"], ["--dry-run"], ["--fail-on", "critical"]):
        r = cli("dr", "check", "--system", "RITA/crvs", "--watch", "2", *extra)
        assert r.exit_code == 2 and f"{extra[0]} is for a single run" in r.stderr, (extra, r.stderr)
    r = cli("dr", "check", "--system", "RITA/crvs", "--watch", "0.2")
    assert r.exit_code == 2 and "too often" in r.stderr
