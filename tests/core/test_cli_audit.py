"""`egactl audit list`: the filters reach the server and select what they say."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.fixture
def history(cli, clock):
    """Three changes by two identities, a day apart (the backend's clock is a FakeClock)."""
    assert cli("institutions", "create", "UDSM", "--name", "University of Dar es Salaam", "--kind", "other").exit_code == 0
    clock.advance(days=1)
    assert cli("institutions", "update", "RITA", "--region", "Dodoma", role="operator").exit_code == 0
    clock.advance(days=1)
    assert cli("institutions", "delete", "UDSM", "--yes").exit_code == 0
    return clock


def entries(cli, *args):
    r = cli("audit", "list", "-o", "json", *args)
    assert r.exit_code == 0, r.stderr
    return [(e["action"], e["resource_id"], e["actor"]) for e in r.json()]


def test_all_changes_newest_first_and_oldest_first_on_request(cli, history):
    oldest_first = [("create", "UDSM", "admin@ega.go.tz"), ("update", "RITA", "ops@rita.go.tz"),
                    ("delete", "UDSM", "admin@ega.go.tz")]
    assert entries(cli) == oldest_first[::-1]
    assert entries(cli, "--oldest-first") == oldest_first
    assert entries(cli, "--limit", "1") == [("delete", "UDSM", "admin@ega.go.tz")]  # the latest change
    assert entries(cli, "--limit", "1", "--oldest-first") == [("create", "UDSM", "admin@ega.go.tz")]
    r = cli("audit", "list", "--action", "update")  # the table too
    assert r.exit_code == 0 and "ops@rita.go.tz" in r.stdout.splitlines()[1]


def test_time_order_holds_across_pages_with_the_id_breaking_ties(cli, clock):
    """Each page is asked for separately (limit=1), so the cursor must carry the time and the id."""
    for code in ("AAA", "BBB"):  # two entries at the same time: the later id is the newer
        assert cli("institutions", "create", code, "--name", f"Institution {code}", "--kind", "agency").exit_code == 0
    clock.advance(hours=1)
    assert cli("institutions", "update", "AAA", "--region", "Mbeya").exit_code == 0

    def paged(*fields):
        r = cli("api", "GET", "audit", "--paginate", "-f", "limit=1", *fields, "--query", "[].[action, resource_id]")
        assert r.exit_code == 0, r.stderr
        return [tuple(e) for e in r.json()]

    assert paged() == [("update", "AAA"), ("create", "BBB"), ("create", "AAA")]
    assert paged("-f", "oldest_first=true") == [("create", "AAA"), ("create", "BBB"), ("update", "AAA")]


def test_wide_adds_the_role(cli, history):
    table = cli("audit", "list", "--action", "update").stdout.splitlines()[0].split()
    wide = cli("audit", "list", "--action", "update", "-o", "wide").stdout.splitlines()
    assert "ROLE" not in table and wide[0].split()[:3] == ["AT", "ACTOR", "ROLE"]
    assert wide[1].split()[3:5] == ["ops@rita.go.tz", "operator"]  # after the time: date, HH:MM, EAT


def test_filters(cli, history):
    assert entries(cli, "--resource", "institution/UDSM") == [("delete", "UDSM", "admin@ega.go.tz"),
                                                              ("create", "UDSM", "admin@ega.go.tz")]
    assert entries(cli, "--actor", "ops@rita.go.tz") == [("update", "RITA", "ops@rita.go.tz")]
    assert entries(cli, "--action", "delete") == [("delete", "UDSM", "admin@ega.go.tz")]
    assert entries(cli, "--institution", "rita") == [("update", "RITA", "ops@rita.go.tz")]
    since = (history.now - dt.timedelta(hours=12)).isoformat()
    assert entries(cli, "--since", since) == [("delete", "UDSM", "admin@ega.go.tz")]
    assert len(entries(cli, "--limit", "2")) == 2


def test_before_and_after_are_kept(cli, history):
    r = cli("audit", "list", "--resource", "institution/RITA", "-o", "json")
    (entry,) = r.json()
    assert entry["before"]["region"] == "Dar es Salaam" and entry["after"]["region"] == "Dodoma"
    assert entry["request_id"]


def test_table_and_bad_since(cli, history):
    r = cli("audit", "list", "--action", "update")
    assert r.exit_code == 0
    header, row = r.stdout.splitlines()
    assert header.split()[:5] == ["AT", "ACTOR", "ACTION", "RESOURCE", "ID"]
    assert "ops@rita.go.tz" in row and "RITA" in row
    r = cli("audit", "list", "--since", "last tuesday")
    assert r.exit_code == 2
    assert "--since 'last tuesday' is not a time" in r.stderr and "how long ago: 30m, 24h, 7d" in r.stderr


def test_since_a_time_without_a_zone_is_east_africa_time_as_egactl_shows_times(cli, history):
    # What the table shows (EAT) typed back selects from that moment; it was read as UTC, 3 h later.
    (deleted,) = cli("audit", "list", "--action", "delete", "-o", "json").json()
    at = dt.datetime.fromisoformat(deleted["at"]) - dt.timedelta(hours=1)
    eat = at.astimezone(dt.timezone(dt.timedelta(hours=3)))
    assert entries(cli, "--since", eat.strftime("%Y-%m-%d %H:%M")) == [("delete", "UDSM", "admin@ega.go.tz")]
    assert entries(cli, "--since", eat.strftime("%Y-%m-%d %H:%M EAT")) == [("delete", "UDSM", "admin@ega.go.tz")]


def test_empty_is_valid(cli):
    r = cli("audit", "list", "--actor", "nobody@example.org", "-o", "json")
    assert r.exit_code == 0 and r.stdout == "[]\n"
