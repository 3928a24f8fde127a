"""The database under the backend: SQLite set up for concurrent use, PostgreSQL by URL.

SQLite: WAL (readers never wait for the writer), a busy timeout (writers queue
instead of failing at once), foreign keys on, and write transactions that take
the write lock at BEGIN, on every pooled connection. PostgreSQL: the same app,
selected by URL alone, working end-to-end behind `egactl serve`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest
from sqlalchemy import select, text

from egactl.server.db import make_engine, normalise_url
from egactl.server.models import AuditEntry, Institution


def test_every_sqlite_connection_gets_the_pragmas(backend):
    conns = [backend.engine.connect() for _ in range(3)]  # three distinct pooled connections
    try:
        for conn in conns:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("busy_timeout") == 30000
            assert pragma("foreign_keys") == 1
            assert pragma("synchronous") == 1  # NORMAL: safe with WAL, far fewer fsyncs
    finally:
        for conn in conns:
            conn.close()


def test_a_write_transaction_holds_the_write_lock_from_its_first_statement(backend, tmp_path):
    """BEGIN IMMEDIATE: two writers queue at BEGIN instead of deadlocking on a lock upgrade."""
    path = str(backend.engine.url.database)
    with backend.write_sessions() as writer:
        writer.scalar(select(Institution.code).limit(1))  # only a read, yet the lock is taken
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            # WAL: a reader is not blocked by the writer.
            assert other.execute("SELECT count(*) FROM core_institutions").fetchone()[0] == 8
        finally:
            other.close()
        writer.rollback()
    with backend.read_sessions() as reader:  # and a read session does not take it
        reader.scalar(select(Institution.code).limit(1))
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()


def test_sqlite_file_is_in_wal_mode_on_disk(cli, backend):
    assert cli("institutions", "create", "UDSM", "--name", "UDSM", "--kind", "other").exit_code == 0
    path = str(backend.engine.url.database)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent, not per connection


@pytest.mark.parametrize("url,expected", [
    ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:////var/lib/egactl/server.db", "sqlite:////var/lib/egactl/server.db"),
])
def test_database_url_schemes(url, expected):
    assert normalise_url(url) == expected


def test_postgres_engine_from_a_plain_url(postgres_url):
    engine = make_engine(postgres_url)
    try:
        assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_the_app_works_end_to_end_on_postgres(tmp_path, postgres_url):
    from conftest import start_server

    server = start_server(tmp_path, postgres_url)
    try:
        run = server.run
        r = run("institutions", "create", "udsm", "--name", "University of Dar es Salaam", "--kind", "other",
                "--region", "Dar es Salaam", "-o", "json")
        assert r.returncode == 0, r.stderr
        created = json.loads(r.stdout)
        assert created["code"] == "UDSM" and created["version"] == 1
        assert created["created_at"].endswith("+00:00")

        r = run("institutions", "list", "-o", "json", "--all")
        assert r.returncode == 0, r.stderr
        assert [i["code"] for i in json.loads(r.stdout)] == ["UDSM"]  # serve seeds nothing

        r = run("institutions", "update", "UDSM", "--contact-email", "ict@udsm.ac.tz", "-o", "json")
        assert r.returncode == 0, r.stderr
        updated = json.loads(r.stdout)
        assert (updated["version"], updated["contact_email"]) == (2, "ict@udsm.ac.tz")

        operator = server.token("operator", "UDSM", subject="ops@udsm.ac.tz")
        r = run("institutions", "update", "UDSM", "--region", "Pwani", token=operator)
        assert r.returncode == 0, r.stderr
        helpdesk = server.token("helpdesk", subject="helpdesk@ega.go.tz")
        r = run("institutions", "delete", "UDSM", "--yes", token=helpdesk)
        assert r.returncode == 4

        r = run("audit", "list", "-o", "json", "--resource", "institution/UDSM", "--oldest-first")
        assert r.returncode == 0, r.stderr
        entries = json.loads(r.stdout)
        assert [(e["action"], e["actor"]) for e in entries] == [
            ("create", "admin@ega.go.tz"), ("update", "admin@ega.go.tz"), ("update", "ops@udsm.ac.tz")]
        assert entries[-1]["before"]["region"] == "Dar es Salaam" and entries[-1]["after"]["region"] == "Pwani"
        assert all(e["request_id"] for e in entries)

        r = run("institutions", "import", str(_csv(tmp_path)), "-o", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["statuses"] == {"created": 2}
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            got = conn.execute(text("SELECT code, region, version FROM core_institutions ORDER BY code")).all()
    finally:
        engine.dispose()
    assert [tuple(g) for g in got] == [("MUHAS", None, 1), ("SUA", "Morogoro", 1), ("UDSM", "Pwani", 3)]


def _csv(tmp_path):
    path = tmp_path / "more.csv"
    path.write_text("code,name,kind,region\nSUA,Sokoine University of Agriculture,other,Morogoro\n"
                    "MUHAS,Muhimbili University of Health and Allied Sciences,other,\n", encoding="utf-8")
    return path


def test_times_are_utc_whatever_the_database_session_zone(postgres_url, clock):
    """A PostgreSQL server configured for East Africa Time still yields UTC instants."""
    from egactl.server.app import create_app
    from egactl.server.seed import seed_core

    url = postgres_url + "?options=-c%20timezone%3DAfrica/Dar_es_Salaam"
    app = create_app(url, clock=clock, plugins=[])
    be = app.state.backend
    try:
        with be.write_sessions() as s:
            seed_core(s, be.now())
            s.commit()
        with be.read_sessions() as s:
            assert s.execute(text("SHOW timezone")).scalar() == "Africa/Dar_es_Salaam"
            row = s.scalar(select(Institution).where(Institution.code == "RITA"))
        assert row.created_at == clock.now and row.created_at.utcoffset() == dt.timedelta(0)
        with be.read_sessions() as s:
            since = clock.now - dt.timedelta(minutes=1)
            assert s.scalar(select(Institution.code).where(Institution.created_at >= since).limit(1)) is not None
            assert s.scalar(select(AuditEntry.id).where(AuditEntry.at >= since)) is None
    finally:
        be.engine.dispose()


UTC = dt.timezone.utc


@pytest.mark.parametrize("stored, expected", [
    ("2026-11-30 09:15:00.250000", dt.datetime(2026, 11, 30, 9, 15, 0, 250000, tzinfo=UTC)),  # as egactl writes it
    ("2026-11-30 09:15:00", dt.datetime(2026, 11, 30, 9, 15, tzinfo=UTC)),  # SQLite's CURRENT_TIMESTAMP
    ("2026-11-30T09:15:00+03:00", dt.datetime(2026, 11, 30, 6, 15, tzinfo=UTC)),  # a writer that kept its offset
    (None, None),
])
def test_sqlite_times_read_back_in_utc_whatever_form_they_were_stored_in(backend, stored, expected):
    """SQLite holds times as text. egactl's own form is read in one call (the fast way); any
    other form a writer left takes the general way, and reads the same instant, in UTC."""
    with backend.write_sessions() as s:
        s.execute(text("INSERT INTO core_tokens (subject, role, institutions, token_hash, prefix, created_at, "
                       "expires_at) VALUES ('t', 'admin', '[]', 'h', 'p', '2026-11-30 00:00:00', :t)"),
                  {"t": stored})
        s.commit()
    from egactl.server.models import ApiToken

    with backend.read_sessions() as s:
        through_the_orm = s.scalars(select(ApiToken.expires_at).where(ApiToken.subject == "t")).one()
        through_the_table = s.execute(select(ApiToken.__table__.c.expires_at)
                                      .where(ApiToken.__table__.c.subject == "t")).scalar_one()
    assert through_the_orm == through_the_table == expected
    if expected is not None:
        assert through_the_orm.tzinfo is UTC and through_the_table.tzinfo is UTC


@pytest.fixture
def short_busy_timeout(monkeypatch):
    """Writers give up on SQLite's write lock after 0.2 s (set before the `app` fixture builds its engine)."""
    monkeypatch.setenv("EGACTL_SQLITE_BUSY_TIMEOUT", "0.2")


def test_a_write_lock_held_past_the_busy_timeout_is_a_503_and_stores_nothing(short_busy_timeout, http, tokens, backend):
    """The write transaction's BEGIN IMMEDIATE is where a writer waits for the lock: when another
    process keeps it past the timeout, the answer is "busy, retry" (503 with Retry-After, which
    the client honours), not a 500, and the request leaves nothing behind."""
    other = sqlite3.connect(str(backend.engine.url.database), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        r = http.post("/api/v1/institutions", headers={"Authorization": f"Bearer {tokens['admin']}"},
                      json={"code": "UDSM", "name": "University of Dar es Salaam", "kind": "other"})
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"]
    assert r.headers["Content-Type"].startswith("application/problem+json")
    with backend.read_sessions() as s:
        assert s.scalar(select(Institution).where(Institution.code == "UDSM")) is None
