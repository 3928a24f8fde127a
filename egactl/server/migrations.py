"""Versioned schema migrations, per component (the core and each plugin).

A component's first release is version 1: on a database that has never seen
the component, its tables are created from the current models and every known
migration is recorded as applied ("create_all then stamp", as Alembic's docs
recommend for fresh databases). On an existing database, the migrations newer
than the recorded version run in order, each in its own transaction, so an
upgrade keeps the data. Concurrent starters (several API processes) serialise
on a lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection, Engine, inspect, select, text

from egactl.plugin import Migration
from egactl.server.db import is_busy
from egactl.server.models import SchemaVersion


@dataclass
class Component:
    name: str
    tables: list[Any]
    migrations: list[Migration]

    @property
    def head(self) -> int:
        return max([1, *(m.version for m in self.migrations)])


def migrate(engine: Engine, components: list[Component], now: Callable[[], Any], *,
            seed: Callable[[Connection, str], None] | None = None,
            on_error: Callable[[str, BaseException], None] | None = None) -> list[str]:
    """Bring every component to its head; returns the names created fresh.

    ``seed(conn, name)`` fills a freshly created component in the same
    transaction as its tables, so no other process ever sees the schema without
    its data. ``on_error(name, exc)``: a component whose tables, migrations or
    seed raise is rolled back alone (a savepoint) and reported there, and the
    others go on; without it, or when it re-raises, the whole migration fails.
    A database busy beyond its timeout is never a component's fault: it is raised.

    A database already at every head is only read: starting a backend (every
    sandbox command does) takes no write lock then.
    """
    fresh: list[str] = []
    pending: list[Component] = []
    for comp in components:
        versions = [m.version for m in comp.migrations]
        if versions != sorted(set(versions)) or any(v < 2 for v in versions):
            error = RuntimeError(f"{comp.name}: migration versions must be unique, ascending and start at 2")
            if on_error is None:
                raise error
            on_error(comp.name, error)
            continue
        pending.append(comp)
    if _up_to_date(engine, pending):
        return fresh
    is_pg = engine.dialect.name == "postgresql"
    begin_engine = engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
    with begin_engine.begin() as conn:
        if is_pg:
            conn.execute(text("SELECT pg_advisory_xact_lock(7220119)"))
        SchemaVersion.__table__.create(conn, checkfirst=True)
        recorded = dict(conn.execute(select(SchemaVersion.component, SchemaVersion.version)).all())
        for comp in pending:
            try:
                with conn.begin_nested():
                    if comp.name not in recorded:
                        for table in comp.tables:
                            table.create(conn, checkfirst=True)
                        conn.execute(SchemaVersion.__table__.insert().values(component=comp.name, version=comp.head,
                                                                             applied_at=now()))
                        if seed is not None:
                            seed(conn, comp.name)
                        fresh.append(comp.name)
                        continue
                    current = recorded[comp.name]
                    for m in comp.migrations:
                        if m.version <= current:
                            continue
                        with conn.begin_nested():
                            m.upgrade(conn)
                            conn.execute(SchemaVersion.__table__.update()
                                         .where(SchemaVersion.component == comp.name)
                                         .values(version=m.version, applied_at=now()))
            except Exception as exc:
                if on_error is None or is_busy(exc):
                    raise
                on_error(comp.name, exc)
    return fresh


def _up_to_date(engine: Engine, components: list[Component]) -> bool:
    """Every component recorded at its head (a plain read: no write lock)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(SchemaVersion.__tablename__):
            return False
        recorded = dict(conn.execute(select(SchemaVersion.component, SchemaVersion.version)).all())
    return all(recorded.get(comp.name, 0) >= comp.head for comp in components)
