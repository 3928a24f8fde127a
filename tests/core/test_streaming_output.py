"""`--all` streams: each page is printed as it arrives and none is kept (ApiClient.list → Listing →
render). Proved with a transport that counts pages and looks at stdout when page 2 is asked for;
and every format prints exactly what it printed when the whole list was collected first."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from egactl.cli import app
from egactl.context import Context
from egactl.output import IOStreams
from egactl.server.models import Institution

N = 250  # with the seed's: three pages of 100


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class PageCounter(httpx.BaseTransport):
    """The real backend, one GET of a list at a time; notes what stdout held when each page was asked for."""

    def __init__(self, inner: httpx.BaseTransport, out: io.StringIO):
        self.inner, self.out = inner, out
        self.written_before_page: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "limit" in parse_qs(urlsplit(str(request.url)).query):
            self.written_before_page.append(self.out.getvalue())
        return self.inner.handle_request(request)


@pytest.fixture
def many(backend):
    """N institutions more, the longest names on the first page (so widths are those of the whole list)."""
    now = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    with backend.write_sessions() as s:
        for i in range(N):
            s.add(Institution(code=f"INST{i:04d}", name=f"Institution, \"number\" {i}" + (" (long name)" * 3 if i < 20 else ""),
                              kind="agency", region="Dodoma" if i % 2 else None,
                              contact_email=f"ict@inst{i}.go.tz", created_at=now, updated_at=now))
        s.commit()
    with backend.read_sessions() as s:
        from sqlalchemy import func, select

        return s.scalar(select(func.count()).select_from(Institution))


def run(cli, *args: str, tty: bool = False):
    out, err = (TTY(), TTY()) if tty else (io.StringIO(), io.StringIO())
    counter = PageCounter(cli.transport, out)
    ctx = Context(io=IOStreams(out=out, err=err), transport=counter, token=cli.tokens["admin"])
    r = CliRunner().invoke(app, list(args), obj=ctx)
    assert r.exit_code == 0, (r.stderr, err.getvalue(), r.exception)
    return out.getvalue(), err.getvalue(), counter.written_before_page


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "tsv", "table"])
def test_all_prints_each_page_before_the_next_is_fetched(cli, many, fmt):
    out, _, before = run(cli, "institutions", "list", "--all", "-o", fmt)
    assert len(before) == 3  # three pages of 100
    assert before[0] == ""
    # When page 2 was asked for, page 1 was already out, and only page 1.
    first_page = before[1]
    if fmt == "json":
        assert first_page.startswith("[\n  {") and first_page.count('"code"') == 100
    elif fmt == "jsonl":
        assert len(first_page.splitlines()) == 100
    else:
        assert len(first_page.splitlines()) == 101  # the header and 100 rows
    assert len(before[2].splitlines()) > len(first_page.splitlines())
    assert out.startswith(before[2])


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "tsv", "table", "wide"])
def test_every_format_prints_what_the_collected_list_printed(cli, many, fmt):
    streamed, _, pages = run(cli, "institutions", "list", "--all", "-o", fmt)
    collected, _, _ = run(cli, "institutions", "list", "--limit", "100000", "-o", fmt)  # collected first
    assert len(pages) == 3
    assert streamed == collected
    if fmt == "json":
        assert len(json.loads(streamed)) == many
    if fmt == "csv":
        assert len(list(csv.reader(io.StringIO(streamed)))) == many + 1


def test_query_collects_every_page_first(cli, many):
    out, _, pages = run(cli, "institutions", "list", "--all", "-o", "json", "--query", "length(@)")
    assert json.loads(out) == many and len(pages) == 3
    out, _, _ = run(cli, "institutions", "list", "--all", "-o", "csv", "--query", "[?region=='Dodoma']")
    assert len(list(csv.reader(io.StringIO(out)))) - 1 == sum(1 for i in range(N) if i % 2) + _seeded_in_dodoma(cli)


def _seeded_in_dodoma(cli) -> int:
    out, _, _ = run(cli, "institutions", "list", "--all", "-o", "jsonl")
    return sum(1 for line in out.splitlines() if json.loads(line)["region"] == "Dodoma") - sum(1 for i in range(N) if i % 2)


def test_a_table_keeps_the_first_pages_widths(cli, backend, many):
    # A name on the last page longer than any on the first: in a pipe it is whole (its line longer);
    # at a terminal it is cut with "…" to the first page's width.
    with backend.write_sessions() as s:
        last = s.query(Institution).filter_by(code="INST0249").one()
        last.name = "A very long name " * 8
        s.commit()
    out, _, _ = run(cli, "institutions", "list", "--all")
    lines = out.splitlines()
    assert lines[0].startswith("CODE") and sum(line.startswith("CODE") for line in lines) == 1
    assert len(lines) == many + 1
    row = next(line for line in lines if line.startswith("INST0249"))
    assert ("A very long name " * 8).strip() in row
    first_rows = lines[1:101]
    assert {row.index("Institution") for row in first_rows if "Institution" in row} == {lines[0].index("NAME")}

    out, _, _ = run(cli, "institutions", "list", "--all", tty=True)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", out).splitlines()
    assert sum("CODE" in line for line in lines) == 1 and len(lines) == many + 1
    row = next(line for line in lines if line.startswith("INST0249"))
    assert "…" in row and ("A very long name " * 8).strip() not in row
    name_at = lines[0].index("NAME")
    assert all(line.index(line.split()[1]) == name_at for line in lines[1:])


def test_mail_list_streams_its_table_too(cli, backend, tmp_path):
    """A plugin's list command that maps what it shows (mail's usage column) streams, unchanged."""
    from egactl_mail.server.models import MailDomain

    with backend.write_sessions() as s:
        s.add(MailDomain(domain="rita.go.tz", institution="RITA", naming_rule="given.family", is_primary=True,
                         created_at=backend.now()))
        s.commit()
    n = 230
    staff = tmp_path / "staff.csv"
    staff.write_text("employee_number,given_name,family_name,department\n" +
                     "".join(f"{111000000 + i},Juma,Mrisho{i},ICT\n" for i in range(n)))
    assert cli("mail", "import", str(staff), "-i", "RITA").exit_code == 0
    out, _, before = run(cli, "mail", "list", "--all", "-i", "RITA")
    assert len(before) == 3 and len(before[1].splitlines()) == 101  # page 1 out before page 2 was asked for
    lines = out.splitlines()
    assert len(lines) == n + 1 and all("MB of" in line for line in lines[1:])  # mail's derived column, every page
    collected, _, _ = run(cli, "mail", "list", "--limit", "1000", "-i", "RITA")
    # the same rows; the widths are the first page's (a later, longer name is not cut in a pipe)
    assert [line.split() for line in lines] == [line.split() for line in collected.splitlines()]
    streamed, _, _ = run(cli, "mail", "list", "--all", "-i", "RITA", "-o", "csv")
    assert streamed == run(cli, "mail", "list", "--limit", "1000", "-i", "RITA", "-o", "csv")[0]


def test_a_listing_used_as_a_list_fetches_every_page(cli, many):
    ctx = Context(transport=cli.transport, token=cli.tokens["admin"])
    items = ctx.api().list("/api/v1/institutions", limit=None)
    assert items.streaming
    assert len(items) == many and not items.streaming
    assert len({i["code"] for i in items}) == many
    mapped = ctx.api().list("/api/v1/institutions", limit=None).map(lambda i: i["code"])
    assert mapped.streaming and sorted(mapped) == sorted(i["code"] for i in items)


def test_a_spent_listing_says_so(cli, many):
    ctx = Context(transport=cli.transport, token=cli.tokens["admin"])
    items = ctx.api().list("/api/v1/institutions", limit=None)
    assert sum(len(page) for page in items.pages()) == many
    with pytest.raises(RuntimeError, match="page by page"):
        len(items)


class FailOnPage(PageCounter):
    """As PageCounter, but page ``fail_on`` (1-based) answers 500 (a server that broke mid-listing)."""

    fail_on = 3

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and len(self.written_before_page) + 1 == self.fail_on:
            self.written_before_page.append(self.out.getvalue())
            return httpx.Response(500, json={"type": "about:blank", "title": "Internal Server Error", "status": 500,
                                             "detail": "the server failed to handle this request"},
                                  headers={"Content-Type": "application/problem+json"}, request=request)
        return super().handle_request(request)


def test_a_page_that_fails_mid_listing_exits_with_its_error_after_what_was_printed(cli, many):
    out, err = io.StringIO(), io.StringIO()
    transport = FailOnPage(cli.transport, out)
    ctx = Context(io=IOStreams(out=out, err=err), transport=transport, token=cli.tokens["admin"], sleep=lambda s: None)
    r = CliRunner().invoke(app, ["institutions", "list", "--all", "-o", "jsonl"], obj=ctx)
    assert r.exit_code == 1, (r.stderr, err.getvalue())  # a server error: exit 1, as for any request
    assert "the server failed to handle this request" in (r.stderr + err.getvalue())
    assert len(out.getvalue().splitlines()) == 200  # the two pages that came are printed; nothing after


def test_a_listing_with_pages_to_come_is_the_whole_list_to_any_list_use():
    """Whatever a command does with a listing sees every page, even where list's own C code
    would read only the items already fetched (json, +, tuple, join...)."""
    import copy

    from egactl.api_client import Listing

    def listing() -> Listing:
        made = Listing([1, 2])
        made._rest = iter([[3, 4], [5]])
        assert made.streaming
        return made

    whole = [1, 2, 3, 4, 5]
    assert json.dumps(listing()) == json.dumps(whole) and json.dumps(listing(), indent=2) == json.dumps(whole, indent=2)
    assert len(listing()) == 5 and listing()[4] == 5 and 5 in listing() and listing() == whole
    assert [0] + listing() == [0, *whole] and listing() + [6] == [*whole, 6]
    assert tuple(listing()) == tuple(whole) and sorted(listing(), reverse=True) == whole[::-1]
    assert copy.copy(listing()) == whole and ",".join(map(str, listing())) == "1,2,3,4,5"
    grown = listing()
    grown.append(6)
    assert grown == [*whole, 6]
    assert [p for p in listing().pages()] == [[1, 2], [3, 4], [5]]
    some = listing()
    assert some and some.streaming  # an item here already says it is not empty: nothing more is fetched
    empty_first = Listing()
    empty_first._rest = iter([[], [7]])
    assert empty_first and empty_first == [7]
    none = Listing()
    none._rest = iter([[]])
    assert not none
    assert listing().map(lambda i: i * 10) == [10, 20, 30, 40, 50]


def test_api_paginate_prints_each_page_before_the_next_is_fetched(cli, many):
    """`egactl api GET … --paginate`: one JSON array, each page written as it arrives (none kept)."""
    out, _, before = run(cli, "api", "GET", "institutions", "--paginate")
    assert len(before) == 3 and before[0] == ""
    assert before[1].startswith("[\n  {") and before[1].count('"code"') == 100  # page 1, and only page 1
    assert before[2].count('"code"') == 200 and out.startswith(before[2])
    whole = json.loads(out)
    assert len(whole) == many and out == json.dumps(whole, indent=2, ensure_ascii=False) + "\n"
    assert out == run(cli, "api", "GET", "institutions", "--paginate", "-f", "limit=1000")[0]  # as one page printed it


@pytest.mark.parametrize("query", ["[].code", "[*].[code, region]", "[?region=='Dodoma'].code", "[]"])
def test_api_paginate_applies_an_item_by_item_query_to_each_page(cli, many, query):
    out, _, before = run(cli, "api", "GET", "institutions", "--paginate", "--query", query)
    assert len(before) == 3 and before[1].startswith("[\n  ")  # page 1's answers were out before page 2
    collected, _, one = run(cli, "api", "GET", "institutions", "--paginate", "-f", "limit=1000", "--query", query)
    assert len(one) == 1 and out == collected  # what the query gives over the whole list


def test_api_paginate_collects_for_a_query_of_the_whole_list(cli, many):
    for query, expected in (("length(@)", many), ("[-1].code", "INST0249"), ("[:2] | length(@)", 2)):
        out, _, before = run(cli, "api", "GET", "institutions", "--paginate", "--query", query)
        assert json.loads(out) == expected and before == ["", "", ""]  # nothing printed until every page was in


def test_api_paginate_that_fails_mid_listing_exits_with_its_error_after_what_was_printed(cli, many):
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(io=IOStreams(out=out, err=err), transport=FailOnPage(cli.transport, out), token=cli.tokens["admin"],
                  sleep=lambda s: None)
    r = CliRunner().invoke(app, ["api", "GET", "institutions", "--paginate"], obj=ctx)
    assert r.exit_code == 1 and "the server failed to handle this request" in (r.stderr + err.getvalue())
    assert out.getvalue().count('"code"') == 200  # the two pages that came; no closing bracket: not a whole answer
    assert not out.getvalue().rstrip().endswith("]")


class Remember(httpx.BaseTransport):
    """The real backend; keeps a weak reference to every response it gives."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner, self.responses = inner, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import weakref

        response = self.inner.handle_request(request)
        self.responses.append(weakref.ref(response))
        return response


def test_a_page_printed_is_freed_at_once_not_by_the_cyclic_collector(cli, many):
    """httpx (0.28) ties each response and its stream in a reference cycle: every page's body
    waited for the cyclic garbage collector, and at 600k opt-outs 55 pages' bodies (9 MB) were
    still held at the end. The client breaks the cycle: a page is freed as soon as it is done."""
    import gc

    transport = Remember(cli.transport)
    ctx = Context(transport=transport, token=cli.tokens["admin"])
    gc.disable()
    try:
        for page in ctx.api().list("/api/v1/institutions", limit=None).pages():
            assert page and [r for r in transport.responses[:-1] if r() is not None] == []
    finally:
        gc.enable()
    assert len(transport.responses) == 3
