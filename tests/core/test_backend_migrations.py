"""Versioned migrations: an upgrade keeps the data, and runs once.

A component (the core or a plugin) is created at version 1, data goes in, then
the next release adds a Migration (version 2: a new column). Starting the new
release migrates the database in place, records the version, and a second
start does nothing. Run on SQLite and PostgreSQL, through ``create_app`` (the
path every start takes) and through ``migrate`` for the edge cases.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from fastapi import APIRouter
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, inspect, select, text

from egactl.plugin import BackendPart, Migration
from egactl.server.db import make_engine
from egactl.server.migrations import Component, migrate
from egactl.server.models import CORE_TABLES, SchemaVersion
from egactl.server.scope import ApiRoute


def things_table(*extra: Column) -> Table:
    """The plugin's table as one release's models declare it (own MetaData: never the shared Base)."""
    return Table("mig_things", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(50)), *extra)


V1 = things_table()
V2 = things_table(Column("colour", String(20), nullable=True))


class Counted:
    """A migration step that counts its runs."""

    def __init__(self, sql: str | list[str], fail: bool = False):
        self.sql = [sql] if isinstance(sql, str) else sql
        self.fail = fail
        self.runs = 0

    def __call__(self, conn) -> None:
        self.runs += 1
        for stmt in self.sql:
            conn.execute(text(stmt))
        if self.fail:
            raise RuntimeError("migration step failed half-way")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mig.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engines():
    made = []

    def make(url):
        e = make_engine(url)
        made.append(e)
        return e

    yield make
    for e in made:
        e.dispose()


def versions(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(SchemaVersion.component, SchemaVersion.version)).all())


def columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM mig_things ORDER BY id"))]


def core() -> Component:
    return Component("core", CORE_TABLES, [])


def add_colour() -> Counted:
    return Counted("ALTER TABLE mig_things ADD COLUMN colour VARCHAR(20)")


def start_release(monkeypatch, url: str, table: Table, migrations: list[Migration]):
    """Start the backend as a release whose plugin `mig` has these models and migrations."""
    import egactl.server.app as app_module

    part = BackendPart(router=APIRouter(route_class=ApiRoute), tables=[table], migrations=migrations)
    monkeypatch.setattr(app_module, "load_parts", lambda only=None: {"mig": part})
    app = app_module.create_app(url)
    return app.state.backend.engine


def test_upgrade_keeps_data_records_version_and_runs_once(database_url, monkeypatch):
    engine = start_release(monkeypatch, database_url, V1, [])
    assert versions(engine) == {"core": 1, "mig": 1}
    with engine.begin() as conn:
        conn.execute(insert(V1), [{"name": "first"}, {"name": "second"}])
        conn.execute(text("INSERT INTO core_institutions (code, name, kind, version, created_at, updated_at) "
                          "VALUES ('UDSM', 'University of Dar es Salaam', 'other', 1, :t, :t)"), {"t": now()})
    engine.dispose()

    step = add_colour()
    engine = start_release(monkeypatch, database_url, V2, [Migration(2, "things have a colour", step)])
    assert step.runs == 1
    assert versions(engine) == {"core": 1, "mig": 2}
    assert "colour" in columns(engine, "mig_things")
    assert rows(engine) == [(1, "first", None), (2, "second", None)]
    with engine.begin() as conn:  # the new column is usable by the new release's code
        conn.execute(V2.update().where(V2.c.id == 1).values(colour="green"))
        assert conn.execute(text("SELECT count(*) FROM core_institutions WHERE code = 'UDSM'")).scalar() == 1
    with engine.connect() as conn:
        applied = conn.execute(select(SchemaVersion.applied_at).where(SchemaVersion.component == "mig")).scalar()
    engine.dispose()

    again = add_colour()
    engine = start_release(monkeypatch, database_url, V2, [Migration(2, "things have a colour", again)])
    assert again.runs == 0  # a second start is a no-op
    assert versions(engine) == {"core": 1, "mig": 2}
    assert rows(engine) == [(1, "first", "green"), (2, "second", None)]
    with engine.connect() as conn:
        assert conn.execute(select(SchemaVersion.applied_at).where(SchemaVersion.component == "mig")).scalar() == applied
    engine.dispose()


def test_fresh_database_gets_current_models_and_is_stamped_at_head(database_url, engines):
    engine = engines(database_url)
    step = add_colour()
    fresh = migrate(engine, [core(), Component("mig", [V2], [Migration(2, "colour", step)])], now)
    assert fresh == ["core", "mig"]
    assert step.runs == 0  # the models already have the column
    assert versions(engine) == {"core": 1, "mig": 2}
    assert "colour" in columns(engine, "mig_things")


def test_steps_run_in_order_and_can_move_data(database_url, engines):
    engine = engines(database_url)
    migrate(engine, [core(), Component("mig", [V1], [])], now)
    with engine.begin() as conn:
        conn.execute(insert(V1), [{"name": "a"}, {"name": "b"}])
    two = add_colour()
    three = Counted("UPDATE mig_things SET colour = 'blue' WHERE colour IS NULL")
    migrate(engine, [core(), Component("mig", [V2], [Migration(2, "colour", two), Migration(3, "default blue", three)])], now)
    assert (two.runs, three.runs) == (1, 1)
    assert versions(engine)["mig"] == 3
    assert rows(engine) == [(1, "a", "blue"), (2, "b", "blue")]


def test_a_failing_step_changes_nothing(database_url, engines):
    """All or nothing: the half-done DDL is rolled back and the version stays where it was."""
    engine = engines(database_url)
    migrate(engine, [core(), Component("mig", [V1], [])], now)
    with engine.begin() as conn:
        conn.execute(insert(V1), [{"name": "kept"}])
    broken = Counted("ALTER TABLE mig_things ADD COLUMN colour VARCHAR(20)", fail=True)
    with pytest.raises(RuntimeError, match="half-way"):
        migrate(engine, [core(), Component("mig", [V2], [Migration(2, "colour", broken)])], now)
    assert versions(engine)["mig"] == 1
    assert "colour" not in columns(engine, "mig_things")
    assert rows(engine) == [(1, "kept")]
    fixed = add_colour()  # the repaired release then applies normally
    migrate(engine, [core(), Component("mig", [V2], [Migration(2, "colour", fixed)])], now)
    assert fixed.runs == 1 and versions(engine)["mig"] == 2


@pytest.mark.parametrize("numbers", [[2, 2], [3, 2], [1], [0, 2]])
def test_badly_numbered_migrations_are_refused(tmp_path, engines, numbers):
    engine = engines(f"sqlite:///{tmp_path / 'bad.db'}")
    steps = [Migration(n, f"step {n}", add_colour()) for n in numbers]
    with pytest.raises(RuntimeError, match="unique, ascending and start at 2"):
        migrate(engine, [core(), Component("mig", [V2], steps)], now)


def test_concurrent_starters_migrate_once(database_url, engines):
    """Several API processes behind a load balancer start together: one migrates, the others see it done."""
    first = engines(database_url)
    migrate(first, [core(), Component("mig", [V1], [])], now)
    step = add_colour()
    lock = threading.Lock()
    runs = []

    def counted(conn):
        with lock:
            runs.append(1)
        step(conn)

    comps = [core(), Component("mig", [V2], [Migration(2, "colour", counted)])]
    starters = [engines(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(starters))
    errors = []

    def start(engine):
        barrier.wait()
        try:
            migrate(engine, comps, now)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in starters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(runs) == 1
    assert versions(first)["mig"] == 2
