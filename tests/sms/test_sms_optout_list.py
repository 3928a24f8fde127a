"""`egactl sms optout list --all` streams through the core's listing (ApiClient.list → render),
as every other list does: each page of 1,000 opt-outs is printed before the next is asked
for, every format prints what the collected list printed, and the help desk sees the numbers
masked and no reason on every page."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from egactl.cli import app
from egactl.context import Context
from egactl.output import IOStreams
from egactl_sms.server.models import OptOut
from tests.core.test_streaming_output import PageCounter

N = 2_500  # three pages of 1,000 (reasons of one width: a table takes its widths from the first page)


@pytest.fixture
def optouts(backend):
    now = backend.now()
    with backend.write_sessions() as s:
        s.add_all(OptOut(institution="RITA", phone=f"+255713{i:06d}", reason=f"replied STOP {i:04d}",
                         created_by="ops@rita.go.tz", created_at=now) for i in range(N))
        s.commit()
    return N


def run(cli, *args: str, role: str = "admin"):
    out, err = io.StringIO(), io.StringIO()
    counter = PageCounter(cli.transport, out)
    ctx = Context(io=IOStreams(out=out, err=err), transport=counter, token=cli.tokens[role])
    r = CliRunner().invoke(app, ["sms", "optout", "list", *args], obj=ctx)
    assert r.exit_code == 0, (r.stderr, err.getvalue(), r.exception)
    return out.getvalue(), err.getvalue(), counter.written_before_page


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "tsv", "table"])
def test_all_prints_each_page_before_the_next_is_fetched(cli, optouts, fmt):
    out, _, before = run(cli, "--all", "-i", "RITA", "-o", fmt)
    assert len(before) == 3 and before[0] == ""  # three pages of 1,000
    first_page = before[1]  # what stdout held when page 2 was asked for: page 1, and only page 1
    if fmt == "json":
        assert first_page.startswith("[\n  {") and first_page.count('"phone"') == 1000
    elif fmt == "jsonl":
        assert len(first_page.splitlines()) == 1000
    else:
        assert len(first_page.splitlines()) == 1001  # the header and 1,000 rows
    assert len(before[2].splitlines()) > len(first_page.splitlines()) and out.startswith(before[2])


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "tsv", "table", "wide"])
def test_every_format_prints_what_the_collected_list_printed(cli, optouts, fmt):
    streamed, _, pages = run(cli, "--all", "-i", "RITA", "-o", fmt)
    collected, _, _ = run(cli, "--limit", "100000", "-i", "RITA", "-o", fmt)  # collected first
    assert len(pages) == 3 and streamed == collected
    if fmt == "json":
        assert [o["phone"] for o in json.loads(streamed)] == [f"+255713{i:06d}" for i in range(N)]  # oldest first
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(streamed)))
        assert len(rows) == N and rows[-1]["reason"] == f"replied STOP {N - 1:04d}"


def test_the_help_desk_sees_every_page_masked(cli, optouts):
    out, _, pages = run(cli, "--all", "-o", "jsonl", role="helpdesk")
    listed = [json.loads(line) for line in out.splitlines()]
    assert len(pages) == 3 and len(listed) == N
    assert [o["phone"] for o in listed] == [f"+255713***{i % 1000:03d}" for i in range(N)]  # as the backend masks
    assert {o["reason"] for o in listed} == {None}  # the citizen's own words
    table, _, pages = run(cli, "--all", role="helpdesk")
    assert len(pages) == 3 and len(table.splitlines()) == N + 1
    assert "713000001" not in table and "replied STOP" not in table and table.count("+255713***") == N


def test_a_limit_says_what_it_left_out(cli, optouts):
    out, err, pages = run(cli, "-i", "RITA", "--limit", "30")
    assert len(pages) == 1 and len(out.splitlines()) == 31
    assert f"showing 30 of {N:,}; --limit N or --all" in err


def test_one_number_still_found(cli, optouts):
    out, _, _ = run(cli, "-i", "RITA", "--phone", "0713000007", "-o", "json")
    assert [(o["phone"], o["reason"]) for o in json.loads(out)] == [("+255713000007", "replied STOP 0007")]
