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


@pytest.mark.parametrize("cursor", ["garbage", "a2V5czpbMV0", "a2V5czpbIngiLCAxXQ",
                                    "a2V5czpbIjIwMjYtMTEtMDFUMDA6MDA6MDAiLDFd"])  # a time without its offset
def test_a_cursor_not_from_this_api_is_a_422(session, cursor):
    with pytest.raises(Problem) as bad:
        page(session, select(AuditEntry), AuditEntry.id, cursor=cursor, limit=2, order_by=AuditEntry.at,
             serialize=lambda e: e.id)
    assert bad.value.status == 422
