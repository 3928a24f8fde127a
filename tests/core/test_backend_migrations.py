"""Schema migrations (Alembic, one history per component): an upgrade keeps the data, and runs once.

A component (the core or a plugin) is created at its first revision, data goes
in, then the next release adds a revision (a new column). The new release
upgrades the database in place (the sandbox by itself, a shared database
through ``egactl serve migrate``), records the revision, and a second start
does nothing. Run on SQLite and PostgreSQL, through ``create_app`` (the path
every start takes) and through ``migrate`` for the edge cases.
"""

from __future__ import annotations

import textwrap
import threading
import uuid
from pathlib import Path

import pytest
from fastapi import APIRouter
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, inspect, text

from egactl.errors import Conflict
from egactl.plugin import BackendPart
from egactl.server.app import CORE_HISTORY
from egactl.server.db import make_engine
from egactl.server.models import CORE_TABLES
from egactl.server.schema import Component, migrate
from egactl.server.scope import ApiRoute

CORE_HEAD = Component("core", CORE_TABLES, CORE_HISTORY).head  # the core's newest revision, whatever it is


def things_table(*extra: Column) -> Table:
    """The plugin's table as one release's models declare it (own MetaData: never the shared Base)."""
    return Table("mig_things", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(50)), *extra)


V1 = things_table()
V2 = things_table(Column("colour", String(20), nullable=True))

CREATE = ("op.create_table('mig_things', sa.Column('id', sa.Integer(), primary_key=True), "
          "sa.Column('name', sa.String(50)))")
ADD_COLOUR = "op.add_column('mig_things', sa.Column('colour', sa.String(20), nullable=True))"


class Histories:
    """Writes packages of Alembic revision scripts, as a plugin ships them; counts each revision's runs."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, *steps: str) -> str:
        """A history whose revision ``r<n>`` runs ``steps[n-1]``; returns its package name."""
        name = "mighist_" + uuid.uuid4().hex[:10]
        pkg = self.root / name
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        for n, body in enumerate(steps, start=1):
            down = f'"r{n - 1}"' if n > 1 else "None"
            (pkg / f"r{n}.py").write_text(textwrap.dedent(f'''\
                """Step {n}."""
                import sqlalchemy as sa
                from alembic import op

                revision = "r{n}"
                down_revision = {down}


                def upgrade():
                    with open({str(self.root / "runs")!r}, "a") as f:
                        f.write("{name}/r{n}\\n")
                ''') + "".join(f"    {line}\n" for line in body.splitlines()))
        return name

    def runs(self, package: str, revision: str) -> int:
        path = self.root / "runs"
        return path.read_text().splitlines().count(f"{package}/{revision}") if path.exists() else 0


@pytest.fixture
def histories(tmp_path, monkeypatch):
    root = tmp_path / "histories"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return Histories(root)


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


def versions(engine) -> dict[str, str]:
    found = {}
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table.startswith("alembic_version_"):
                found[table.removeprefix("alembic_version_")] = conn.execute(
                    text(f"SELECT version_num FROM {table}")).scalar()
    return found


def columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM mig_things ORDER BY id"))]


def comps(table: Table, history: str | None) -> list[Component]:
    return [Component("core", CORE_TABLES, CORE_HISTORY), Component("mig", [table], history)]


def start_release(monkeypatch, url: str, table: Table, history: str, **kw):
    """Start the backend as a release whose plugin `mig` has these models and this history."""
    import egactl.server.app as app_module

    part = BackendPart(router=APIRouter(route_class=ApiRoute), tables=[table], migrations=history)
    monkeypatch.setattr(app_module, "load_parts", lambda only=None: {"mig": part})
    app = app_module.create_app(url, **kw)
    return app.state.backend.engine


def test_upgrade_keeps_data_records_version_and_runs_once(database_url, monkeypatch, histories):
    release1 = histories.write(CREATE)
    engine = start_release(monkeypatch, database_url, V1, release1)
    assert versions(engine) == {"core": CORE_HEAD, "mig": "r1"}
    assert histories.runs(release1, "r1") == 0  # a fresh database: created from the models, stamped
    with engine.begin() as conn:
        conn.execute(insert(V1), [{"name": "first"}, {"name": "second"}])
        conn.execute(text("INSERT INTO core_institutions (code, name, kind, version, created_at, updated_at) "
                          "VALUES ('UDSM', 'University of Dar es Salaam', 'other', 1, :t, :t)"),
                     {"t": "2026-11-22 10:00:00"})
    engine.dispose()

    release2 = histories.write(CREATE, ADD_COLOUR)
    with pytest.raises(Conflict, match=r"older than this egactl \(mig: 1 revision to apply\)"):
        start_release(monkeypatch, database_url, V2, release2)  # `egactl serve`: not by itself
    engine = start_release(monkeypatch, database_url, V2, release2, upgrade=True)
    assert histories.runs(release2, "r2") == 1
    assert versions(engine) == {"core": CORE_HEAD, "mig": "r2"}
    assert "colour" in columns(engine, "mig_things")
    assert rows(engine) == [(1, "first", None), (2, "second", None)]
    with engine.begin() as conn:  # the new column is usable by the new release's code
        conn.execute(V2.update().where(V2.c.id == 1).values(colour="green"))
        assert conn.execute(text("SELECT count(*) FROM core_institutions WHERE code = 'UDSM'")).scalar() == 1
    engine.dispose()

    engine = start_release(monkeypatch, database_url, V2, release2, upgrade=True)
    assert histories.runs(release2, "r2") == 1  # a second start is a no-op
    assert versions(engine) == {"core": CORE_HEAD, "mig": "r2"}
    assert rows(engine) == [(1, "first", "green"), (2, "second", None)]
    engine.dispose()
    engine = start_release(monkeypatch, database_url, V2, release2)  # and `egactl serve` starts on it
    engine.dispose()


def test_fresh_database_gets_current_models_and_is_stamped_at_head(database_url, engines, histories):
    engine = engines(database_url)
    history = histories.write(CREATE, ADD_COLOUR)
    fresh = migrate(engine, comps(V2, history))
    assert fresh == ["core", "mig"]
    assert histories.runs(history, "r1") == histories.runs(history, "r2") == 0  # the models already have it all
    assert versions(engine) == {"core": CORE_HEAD, "mig": "r2"}
    assert "colour" in columns(engine, "mig_things")


def test_steps_run_in_order_and_can_move_data(database_url, engines, histories):
    engine = engines(database_url)
    migrate(engine, comps(V1, histories.write(CREATE)))
    with engine.begin() as conn:
        conn.execute(insert(V1), [{"name": "a"}, {"name": "b"}])
    history = histories.write(CREATE, ADD_COLOUR, "op.execute(\"UPDATE mig_things SET colour = 'blue' WHERE colour IS NULL\")")
    migrate(engine, comps(V2, history))
    assert (histories.runs(history, "r2"), histories.runs(history, "r3")) == (1, 1)
    assert versions(engine)["mig"] == "r3"
    assert rows(engine) == [(1, "a", "blue"), (2, "b", "blue")]


def test_a_failing_step_changes_nothing(database_url, engines, histories):
    """All or nothing: the half-done DDL is rolled back and the version stays where it was."""
    engine = engines(database_url)
    migrate(engine, comps(V1, histories.write(CREATE)))
    with engine.begin() as conn:
        conn.execute(insert(V1), [{"name": "kept"}])
    broken = histories.write(CREATE, ADD_COLOUR + "\nraise RuntimeError('migration step failed half-way')")
    with pytest.raises(RuntimeError, match="half-way"):
        migrate(engine, comps(V2, broken))
    assert versions(engine)["mig"] == "r1"
    assert "colour" not in columns(engine, "mig_things")
    assert rows(engine) == [(1, "kept")]
    fixed = histories.write(CREATE, ADD_COLOUR)  # the repaired release then applies normally
    migrate(engine, comps(V2, fixed))
    assert histories.runs(fixed, "r2") == 1 and versions(engine)["mig"] == "r2"


def test_a_failing_plugin_is_rolled_back_alone(database_url, engines, histories):
    engine = engines(database_url)
    migrate(engine, comps(V1, histories.write(CREATE)))
    broken = histories.write(CREATE, ADD_COLOUR + "\nraise RuntimeError('half-way')")
    other = Table("mig_others", MetaData(), Column("id", Integer, primary_key=True))
    failed = {}
    fresh = migrate(engine, [*comps(V2, broken), Component("other", [other], None)],
                    on_error=lambda name, exc: failed.setdefault(name, str(exc)))
    assert failed == {"mig": "half-way"} and fresh == ["other"]
    assert versions(engine)["mig"] == "r1" and "mig_others" in inspect(engine).get_table_names()


def test_a_history_with_two_heads_is_refused(tmp_path, engines, histories):
    engine = engines(f"sqlite:///{tmp_path / 'bad.db'}")
    history = histories.write(CREATE, ADD_COLOUR)
    (histories.root / history / "r3.py").write_text('revision = "r3"\ndown_revision = "r1"\n\n\ndef upgrade():\n    pass\n')
    with pytest.raises(RuntimeError, match="exactly one head, not 2"):
        migrate(engine, comps(V2, history))


def test_a_database_newer_than_this_release_is_refused(database_url, engines, histories):
    engine = engines(database_url)
    migrate(engine, comps(V2, histories.write(CREATE, ADD_COLOUR)))
    older = histories.write(CREATE)  # this release knows only r1; the database is at r2
    for upgrade in (True, False):
        with pytest.raises(Conflict, match=r"newer than this egactl \(mig at revision r2, unknown here\)"):
            migrate(engine, comps(V1, older), upgrade=upgrade, on_error=lambda name, exc: None)
    assert versions(engine)["mig"] == "r2"


def test_concurrent_starters_migrate_once(database_url, engines, histories):
    """Several processes upgrade at once (e.g. `egactl serve migrate` run twice): one migrates, the others see it done."""
    first = engines(database_url)
    migrate(first, comps(V1, histories.write(CREATE)))
    history = histories.write(CREATE, ADD_COLOUR)
    starters = [engines(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(starters))
    errors = []

    def start(engine):
        barrier.wait()
        try:
            migrate(engine, comps(V2, history))  # each its own Components, as separate processes have
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in starters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert histories.runs(history, "r2") == 1
    assert versions(first)["mig"] == "r2"
