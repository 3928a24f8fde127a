"""dr check --nagios, read the way a monitoring system reads a plugin.

The parser below follows the Monitoring Plugins development guidelines
(monitoring-plugins.org/doc/guidelines.html): the first line is
``TEXT | PERFDATA``; long text follows, one line each, until a line with ``|``,
after which everything is perfdata. Perfdata is a space-separated list of
``'label'=value[UOM];[warn];[crit];[min];[max]``: label quoted if it has
spaces, a quote doubled, no '='; value/min/max in [-0-9.]; UOM one of
s, ms, us, %, B, KB, MB, TB, c or none; warn/crit in the range format
``[@]start:end`` (start may be ~); trailing empty fields may be dropped.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from fakesites import FakeSites, health
from egactl_dr.server.models import DrCheckRun

EXIT = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
RANGE_RE = re.compile(rf"^@?(?:(?:~|{NUMBER})?:)?(?:{NUMBER})?$")
PERF_RE = re.compile(
    rf"""(?:'(?P<qlabel>(?:[^']|'')+)'|(?P<label>[^'=\s]+))
         =(?P<value>{NUMBER})(?P<uom>us|ms|s|%|KB|MB|GB|TB|B|c)?
         (?:;(?P<warn>[^;\s]*))?(?:;(?P<crit>[^;\s]*))?
         (?:;(?P<min>(?:{NUMBER})?))?(?:;(?P<max>(?:{NUMBER})?))?""", re.X)


def parse_perfdata(text: str) -> list[dict]:
    items, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = PERF_RE.match(text, pos)
        assert m, f"bad perfdata at: {text[pos:pos + 60]!r}"
        end = m.end()
        assert end == len(text) or text[end] == " ", f"perfdata item runs on: {text[pos:end + 10]!r}"
        label = m["qlabel"].replace("''", "'") if m["qlabel"] is not None else m["label"]
        assert "=" not in label
        for key in ("warn", "crit"):
            assert m[key] is None or RANGE_RE.match(m[key]), f"{label}: bad {key} range {m[key]!r}"
        items.append({"label": label, "value": float(m["value"]), "uom": m["uom"] or "", "warn": m["warn"] or "",
                      "crit": m["crit"] or "", "min": m["min"] or "", "max": m["max"] or ""})
        pos = end
        while pos < len(text) and text[pos] == " ":
            pos += 1
    return items


def parse_plugin_output(stdout: str) -> dict:
    lines = stdout.rstrip("\n").split("\n")
    first, _, perf = lines[0].partition("|")
    long_text, perf_parts, in_perf = [], [perf], False
    for line in lines[1:]:
        if in_perf:
            perf_parts.append(line)
        elif "|" in line:
            text, _, p = line.partition("|")
            long_text.append(text.rstrip())
            perf_parts.append(p)
            in_perf = True
        else:
            long_text.append(line)
    m = re.match(r"^DR (OK|WARNING|CRITICAL|UNKNOWN) - (.+)$", first.rstrip())
    assert m, f"bad status line: {first!r}"
    return {"state": m[1], "text": m[2], "long_text": long_text,
            "perfdata": parse_perfdata(" ".join(p.strip() for p in perf_parts if p.strip()))}


def nagios(cli, *args, role="admin"):
    r = cli("dr", "check", "--nagios", *args, role=role)
    assert r.exception is None, r.exception
    out = parse_plugin_output(r.stdout)
    assert r.exit_code == EXIT[out["state"]], (r.exit_code, r.stdout)
    return r.exit_code, out


@pytest.fixture
def sites():
    with FakeSites() as s:
        yield s


def add(cli, ref, primary, dr, *extra):
    r = cli("dr", "systems", "create", ref, "--hosting", "gdc-dodoma", "--dr-hosting", "gdc-dar", "--primary", primary,
            "--dr", dr, "--rpo", "15m", "--rto", "4h", "--version-from", "json:version",
            "--replicated-from", "json:replication.last_replicated_at", "--backup-from", "json:backup.last_success",
            *extra)
    assert r.exit_code == 0, r.stderr


def drill(cli, ref):
    assert cli("dr", "drills", "start", ref).exit_code == 0
    assert cli("dr", "drills", "finish", ref, "--data-loss", "0").exit_code == 0


def ready(sites, version="1.0", replicated=dt.timedelta(minutes=1)):
    return sites.http(health(version, replicated_ago=replicated, backup_ago=dt.timedelta(hours=1)))


def by_label(out):
    return {p["label"]: p for p in out["perfdata"]}


def test_parser_rejects_what_the_guidelines_forbid():
    with pytest.raises(AssertionError):
        parse_perfdata("'a b'=1;2;3;0;x")
    with pytest.raises(AssertionError):
        parse_perfdata("time=1.2sec")
    with pytest.raises(AssertionError):
        parse_perfdata("'lag'=5s;1e3")
    assert parse_perfdata("'it''s'=1;;;0 plain=2.5ms;1:;~:3")[0]["label"] == "it's"


def test_ok_exits_0_with_perfdata_per_system(cli, sites):
    add(cli, "RITA/crvs", ready(sites), ready(sites))
    drill(cli, "RITA/crvs")

    code, out = nagios(cli, "--system", "RITA/crvs", "--timeout", "3")

    assert code == 0 and out["text"].startswith("1 system ready, all checks OK")
    perf = by_label(out)
    assert perf["systems"]["value"] == 1 and perf["ok"]["value"] == 1 and perf["critical"]["value"] == 0
    assert perf["RITA/crvs primary.time"]["uom"] == "s" and perf["RITA/crvs primary.time"]["min"] == "0"
    assert perf["RITA/crvs replication_lag"]["crit"] == "900"  # the RPO, in the value's unit (s)
    assert perf["RITA/crvs replication_lag"]["warn"] == "720"  # 80 % of it
    assert perf["RITA/crvs drill_age"]["value"] == 0
    assert out["long_text"][0] == "RITA/crvs OK: all checks OK"


def test_warning_exits_1(cli, sites):
    add(cli, "RITA/crvs", ready(sites), ready(sites, replicated=dt.timedelta(minutes=13)))
    drill(cli, "RITA/crvs")
    code, out = nagios(cli, "--system", "RITA/crvs", "--timeout", "3")
    assert code == 1
    assert "RITA/crvs replication last replicated 13 min ago" in out["text"]
    assert 780 <= by_label(out)["RITA/crvs replication_lag"]["value"] < 840


def test_critical_exits_2_and_names_the_worst(cli, backend, sites):
    add(cli, "RITA/crvs", ready(sites, "2.4.1"), ready(sites, "2.3.0"))
    add(cli, "TRA/idras", ready(sites), ready(sites))
    drill(cli, "RITA/crvs")
    drill(cli, "TRA/idras")

    code, out = nagios(cli, "--all", "--timeout", "3")

    assert code == 2
    assert out["text"].startswith("1 critical of 2 systems: RITA/crvs version the DR site runs 2.3.0")
    assert any(line.startswith("RITA/crvs CRITICAL: version CRITICAL") for line in out["long_text"])
    assert "TRA/idras OK: all checks OK" in out["long_text"]
    assert "recorded as check run 1" in out["long_text"]
    assert {"RITA/crvs primary.time", "TRA/idras dr.time"} <= set(by_label(out))
    with backend.read_sessions() as s:
        assert s.scalars(select(DrCheckRun.status)).one() == "CRITICAL"


def test_whole_run_over_its_deadline_is_unknown(cli, backend, sites):
    hanging = f"http://127.0.0.1:{sites.hanging()}/health"
    add(cli, "RITA/crvs", ready(sites), hanging)

    code, out = nagios(cli, "--system", "RITA/crvs", "--timeout", "30", "--deadline", "0.5")

    assert code == 3
    # The silent DR site can never answer in time; whether the primary did depends on the machine's load.
    assert re.match(r"run exceeded its 0\.5 s deadline \([12] probe\(s\) unfinished\)", out["text"])
    assert "dr.reachability UNKNOWN not finished within the run's 0.5 s deadline" in out["long_text"][0]
    with backend.read_sessions() as s:
        run = s.scalars(select(DrCheckRun)).one()
    assert run.deadline_exceeded is True and run.status == "UNKNOWN"


def test_unknown_when_nothing_matches_or_the_inventory_is_unreadable(cli):
    code, out = nagios(cli, "--institution", "EGA")
    assert code == 3 and out["text"] == "no DR systems match the selection"
    code, out = nagios(cli, "--system", "RITA/nothing")
    assert code == 3 and out["text"].startswith("cannot read the DR inventory: DR system RITA/nothing not found")
    assert out["perfdata"] == []


def test_a_bad_option_is_unknown_too_not_critical(cli, tmp_path):
    """Exit 2 would read as CRITICAL to a monitoring system; the plugin's own trouble is UNKNOWN."""
    junk = tmp_path / "not-a-ca.pem"
    junk.write_text("hello")
    code, out = nagios(cli, "--all", "--ca-bundle", str(junk))
    assert code == 3 and out["text"].startswith("bad option: --ca-bundle")
    assert "holds no PEM certificate" in out["text"]


def test_labels_with_quotes_and_equals_stay_parseable(cli, sites):
    from egactl_dr.commands.check.nagios import label, perf_item
    from egactl_dr.commands.check.verdicts import Perf

    item = perf_item("odd'name=x time", Perf("t", 0.25, "s", "2", "5", 0))
    assert parse_perfdata(item) == [{"label": "odd_name_x time", "value": 0.25, "uom": "s", "warn": "2", "crit": "5",
                                     "min": "0", "max": ""}]
    assert label("a b") == "'a b'"


def test_the_real_executable_against_egactl_serve(served, sites):
    """What Nagios actually runs: the installed command, over HTTP, its exit status read from the process."""
    primary = sites.http(health("7.0", replicated_ago=dt.timedelta(minutes=1), backup_ago=dt.timedelta(hours=1)))
    dr = f"http://127.0.0.1:{sites.refused()}/health"
    add_args = ["dr", "systems", "create", "NIDA/nin", "--hosting", "gdc-dodoma", "--dr-hosting", "gdc-dar",
                "--primary", primary, "--dr", dr, "--rpo", "15m", "--rto", "4h"]
    assert served.run("institutions", "create", "NIDA", "--name", "National Identification Authority",
                      "--kind", "agency").returncode == 0  # `egactl serve` starts with an empty directory
    assert served.run(*add_args).returncode == 0
    monitor = served.token("helpdesk", subject="nagios@ega.go.tz")

    proc = served.run("dr", "check", "--system", "NIDA/nin", "--nagios", "--timeout", "3", token=monitor)

    out = parse_plugin_output(proc.stdout)
    assert proc.returncode == 2 == EXIT[out["state"]], proc.stderr
    assert "NIDA/nin dr.reachability connection refused" in out["text"]
    assert "recorded as check run 1" in out["long_text"]
    history = served.run("dr", "history", "NIDA/nin", "-o", "json")
    assert [h["checked_by"] for h in __import__("json").loads(history.stdout)] == ["nagios@ega.go.tz"]
