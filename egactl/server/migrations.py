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

from sqlalchemy import Engine, select, text

from egactl.plugin import Migration
from egactl.server.models import SchemaVersion


@dataclass
class Component:
    name: str
    tables: list[Any]
    migrations: list[Migration]

    @property
    def head(self) -> int:
        return max([1, *(m.version for m in self.migrations)])


def migrate(engine: Engine, components: list[Component], now: Callable[[], Any]) -> list[str]:
    """Bring every component to its head; returns the names created fresh."""
    fresh: list[str] = []
    is_pg = engine.dialect.name == "postgresql"
    begin_engine = engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
    with begin_engine.begin() as conn:
        if is_pg:
            conn.execute(text("SELECT pg_advisory_xact_lock(7220119)"))
        SchemaVersion.__table__.create(conn, checkfirst=True)
        recorded = dict(conn.execute(select(SchemaVersion.component, SchemaVersion.version)).all())
        for comp in components:
            versions = [m.version for m in comp.migrations]
            if versions != sorted(set(versions)) or any(v < 2 for v in versions):
                raise RuntimeError(f"{comp.name}: migration versions must be unique, ascending and start at 2")
            if comp.name not in recorded:
                for table in comp.tables:
                    table.create(conn, checkfirst=True)
                conn.execute(SchemaVersion.__table__.insert().values(component=comp.name, version=comp.head, applied_at=now()))
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
    return fresh
