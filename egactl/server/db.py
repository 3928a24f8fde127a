"""Database engine and the declarative base every backend table derives from.

SQLite (the default) runs in WAL mode with a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so that two writers queue on the
lock instead of failing on a lock upgrade. PostgreSQL is selected by URL; there
allocation is serialised with transaction-scoped advisory locks (``lock()``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite (which stores naive text) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the driver we ship in the `postgres` extra.
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_busy_timeout() -> float:
    """Seconds a SQLite writer waits for the write lock before giving up (busy: a 503).

    ``EGACTL_SQLITE_BUSY_TIMEOUT`` overrides the default of 30.
    """
    try:
        return max(0.0, float(os.environ.get("EGACTL_SQLITE_BUSY_TIMEOUT", "30")))
    except ValueError:
        return 30.0


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        busy = sqlite_busy_timeout()
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy},
                               pool_size=20, max_overflow=20)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own
            # transaction handling cannot do BEGIN IMMEDIATE).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def sessionmakers(engine: Engine) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    """(read sessions, write sessions); write sessions take SQLite's write lock at BEGIN."""
    read = sessionmaker(engine, expire_on_commit=False)
    write_engine = engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
    write = sessionmaker(write_engine, expire_on_commit=False)
    return read, write


def lock(session: Session, name: str) -> None:
    """Serialise allocations on ``name`` until the transaction ends.

    On PostgreSQL a transaction-scoped advisory lock; on SQLite the write
    transaction already holds the database's single write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


# SQLSTATEs of a PostgreSQL transaction that lost a race for a lock and may simply be retried:
# serialization_failure, deadlock_detected, lock_not_available.
_PG_RETRYABLE = frozenset({"40001", "40P01", "55P03"})


def is_busy(exc: BaseException) -> bool:
    """The database stayed busy (SQLite's write lock past the busy timeout, a
    PostgreSQL deadlock or lock timeout): nothing was written; retrying is right."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _PG_RETRYABLE:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database table is locked" in message or "database is busy" in message
