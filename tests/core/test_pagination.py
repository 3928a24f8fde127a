"""The SDK's page(): keyset pages in any order (by a column, then the id), newest first
by default, on SQLite and PostgreSQL; a page never repeats or skips a row."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from egactl.server.models import AuditEntry
from egactl.server.pagination import page
from egactl.server.problems import Problem

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
# Out of id order on purpose, with a tie on `at` (ids 2 and 5) that only the id can break.
HOURS = {1: 3, 2: 7, 3: 1, 4: 9, 5: 7, 6: 2}


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    AuditEntry.__table__.create(engine)
    with Session(engine) as s:
        for i, hours in HOURS.items():
            s.add(AuditEntry(id=i, at=T0 + dt.timedelta(hours=hours), actor="a", role="admin", action="x",
                             resource_type="thing", resource_id=str(i)))
        s.commit()
        yield s
    AuditEntry.__table__.drop(engine)
    engine.dispose()


def walk(session, stmt, size, **kw):
    ids, cursor = [], None
    while True:
        got = page(session, stmt, AuditEntry.id, cursor=cursor, limit=size, serialize=lambda e: e.id, **kw)
        ids += got["items"]
        cursor = got["next_cursor"]
        if cursor is None:
            return ids


@pytest.mark.parametrize("size", [1, 2, 4, 10])
def test_newest_first_by_default_and_oldest_first_on_request(session, size):
    stmt = select(AuditEntry)
    by_time = sorted(HOURS, key=lambda i: (HOURS[i], i))
    assert walk(session, stmt, size, order_by=AuditEntry.at) == by_time[::-1]
    assert walk(session, stmt, size, order_by=AuditEntry.at, oldest_first=True) == by_time
    assert walk(session, stmt, size) == sorted(HOURS, reverse=True)
    assert walk(session, stmt, size, oldest_first=True) == sorted(HOURS)


def test_a_row_added_between_pages_is_neither_repeated_nor_skipped(session):
    first = page(session, select(AuditEntry), AuditEntry.id, cursor=None, limit=3, order_by=AuditEntry.at,
                 serialize=lambda e: e.id)
    assert first["items"] == [4, 5, 2]
    session.add(AuditEntry(id=7, at=T0 + dt.timedelta(hours=8), actor="a", role="admin", action="x",
                           resource_type="thing", resource_id="7"))  # newer than the page already read
    session.commit()
    cursor, seen = first["next_cursor"], list(first["items"])
    while cursor:
        got = page(session, select(AuditEntry), AuditEntry.id, cursor=cursor, limit=2, order_by=AuditEntry.at,
                   serialize=lambda e: e.id)
        seen += got["items"]
        cursor = got["next_cursor"]
    assert seen == [4, 5, 2, 1, 6, 3]


def test_a_statement_of_several_entities_pages_as_rows(session):
    got = page(session, select(AuditEntry, AuditEntry.resource_id), AuditEntry.id, cursor=None, limit=2,
               serialize=lambda row: (row[0].id, row[1]))
    assert got["items"] == [(6, "6"), (5, "5")]


@pytest.mark.parametrize("columns", [
    pytest.param(lambda: (AuditEntry.id, AuditEntry.resource_id, AuditEntry.at), id="mapped attributes"),
    pytest.param(lambda: tuple(AuditEntry.__table__.c[k] for k in ("id", "resource_id", "at")), id="the table's columns"),
    pytest.param(lambda: (AuditEntry.resource_id, AuditEntry.actor), id="without the keys"),
])
def test_a_row_of_columns_is_read_by_name_and_by_position(session, columns):
    """`serialize` gets each row of columns as a named tuple: by name as a Row was read, by
    position or unpacked as a tuple, and without the keys the page added to find the next one."""
    seen = []

    def serialize(row):
        seen.append(row)
        return {"resource_id": row.resource_id, "first": row[0], "width": len(row)}

    got = page(session, select(*columns()), AuditEntry.id, cursor=None, limit=2, order_by=AuditEntry.at,
               serialize=serialize)
    width = len(columns())
    assert [i["resource_id"] for i in got["items"]] == ["4", "5"]  # the latest two: 9 h, then 7 h with the higher id
    assert all(i["width"] == width for i in got["items"])
    assert got["next_cursor"]
    assert isinstance(seen[0], tuple) and tuple(seen[0]) == tuple(seen[0][:width])


@pytest.mark.parametrize("cursor", ["garbage", "a2V5czpbMV0", "a2V5czpbIngiLCAxXQ",
                                    "a2V5czpbIjIwMjYtMTEtMDFUMDA6MDA6MDAiLDFd"])  # a time without its offset
def test_a_cursor_not_from_this_api_is_a_422(session, cursor):
    with pytest.raises(Problem) as bad:
        page(session, select(AuditEntry), AuditEntry.id, cursor=cursor, limit=2, order_by=AuditEntry.at,
             serialize=lambda e: e.id)
    assert bad.value.status == 422


# -- "showing 30 of 1,204; --limit N or --all" -------------------------------------------


def test_a_table_cut_short_by_the_limit_says_how_many_there_are(cli):
    r = cli("institutions", "list", "--limit", "3")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 4  # header and three rows
    assert r.stderr.strip().splitlines()[-1] == "showing 3 of 8; --limit N or --all"
    for whole in (("institutions", "list", "--all"), ("institutions", "list", "--limit", "8")):
        assert "showing" not in cli(*whole).stderr
    assert cli("-o", "json", "institutions", "list", "--limit", "3").stderr == ""  # scripts: data only


def test_the_count_stops_at_a_bound_so_it_costs_the_same_at_any_size(cli, monkeypatch):
    from egactl.server import pagination

    monkeypatch.setattr(pagination, "COUNT_UP_TO", 5)
    r = cli("institutions", "list", "--limit", "2")
    assert r.stderr.strip().splitlines()[-1] == "showing 2 of more than 5; --limit N or --all"


def test_the_first_page_carries_the_total_in_a_header(cli):
    r = cli("api", "GET", "/api/v1/institutions", "-f", "limit=2", "--include")
    assert r.exit_code == 0
    assert "x-total-count: 8" in r.stdout.lower()
    follow = cli("-o", "json", "api", "GET", "/api/v1/institutions", "-f", "limit=2").json()
    nxt = cli("api", "GET", "/api/v1/institutions", "-f", "limit=2", "-f", f"cursor={follow['next_cursor']}",
              "--include")
    assert "x-total-count" not in nxt.stdout.lower()  # counted once, on the first page


def test_a_first_page_counts_the_cheaper_statement_it_is_given(session, monkeypatch):
    """``page(..., counted=)`` (SDK 2.4): the total is that statement's rows, on the first page only;
    the rows are still ``stmt``'s. (A list whose filter its matching ids already meet counts the ids
    alone: ``mail list --search``.)"""
    from types import SimpleNamespace

    from egactl.server import scope

    answer = SimpleNamespace(response_headers={})
    monkeypatch.setattr(scope, "current", lambda: answer)
    stmt = select(AuditEntry).where(AuditEntry.id > 1)
    ids = select(AuditEntry.id).where(AuditEntry.id > 1)
    first = page(session, stmt, AuditEntry.id, cursor=None, limit=2, serialize=lambda e: e.id, counted=ids)
    assert first["items"] == [6, 5] and answer.response_headers == {"X-Total-Count": "5"}
    answer.response_headers.clear()
    fewer = ids.where(AuditEntry.id > 3)  # not stmt's rows: shows the total is counted from this one
    page(session, stmt, AuditEntry.id, cursor=None, limit=2, serialize=lambda e: e.id, counted=fewer)
    assert answer.response_headers == {"X-Total-Count": "3"}
    answer.response_headers.clear()
    page(session, stmt, AuditEntry.id, cursor=None, limit=2, serialize=lambda e: e.id)
    assert answer.response_headers == {"X-Total-Count": "5"}
    answer.response_headers.clear()
    later = page(session, stmt, AuditEntry.id, cursor=first["next_cursor"], limit=2, serialize=lambda e: e.id,
                 counted=ids)
    assert later["items"] == [4, 3] and answer.response_headers == {}
