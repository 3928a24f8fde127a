"""Database engine and the declarative base every backend table derives from.

SQLite (the default) runs in WAL mode with a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so that two writers queue on the
lock instead of failing on a lock upgrade. PostgreSQL is selected by URL; there
allocation is serialised with transaction-scoped advisory locks (``lock()``), and
a change that must see no write in progress beside it (an erasure) takes the
write fence alone (``alone()``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, Engine, Integer, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, Session, declared_attr, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from egactl.server.admission import Capacity


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

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """A time read is aware and in UTC (SQLite gives it naive): the dialect's own conversion
        and this, as one function. It runs for every time of every row read (two of each row
        of most pages), where TypeDecorator's ``process_result_value`` doubled the calls."""
        read = self.impl_instance.result_processor(dialect, coltype)
        utc = dt.timezone.utc

        def process(value: Any) -> dt.datetime | None:
            if value is None:
                return None
            if read is not None:
                value = read(value)
            if value.tzinfo is utc:
                return value
            return value.replace(tzinfo=utc) if value.tzinfo is None else value.astimezone(utc)

        if dialect.name != "sqlite":
            return process
        parse = dt.datetime.fromisoformat

        def from_sqlite(value: Any) -> dt.datetime | None:
            # SQLite holds the time as naive UTC text ("2026-11-30 09:15:00.000000"):
            # parsed with its zone in one call, a tenth of parsing it and then
            # replacing its tzinfo. Anything else takes the general way.
            try:
                return parse(value + "+00:00")
            except (TypeError, ValueError):
                return process(value)

        return from_sqlite


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


@event.listens_for(Mapper, "mapper_configured")
def _utc_when_set(mapper: Mapper, cls: type) -> None:
    """A time set on a UTCDateTime attribute is held in UTC from then on, as it is stored.

    The column stores UTC whatever offset it is given, but the object kept the value
    as given until it was read again: a route answering with the row it just wrote
    echoed a client's ``+03:00`` where every later read says ``+00:00``."""
    for prop in mapper.column_attrs:
        if any(isinstance(c.type, UTCDateTime) for c in prop.columns):
            event.listen(getattr(cls, prop.key), "set", _as_utc, retval=True)


def _as_utc(target: Any, value: Any, old: Any, initiator: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None and value.tzinfo is not dt.timezone.utc:
        return value.astimezone(dt.timezone.utc)
    return value


class Versioned:
    """Mixin for every table whose rows a caller can change: optimistic locking.

    ``version`` is SQLAlchemy's ``version_id_col`` with the ORM's own counter:
    every UPDATE of the row sets ``version = version + 1`` and adds ``AND
    version = <the version this session read>``, every DELETE adds the same
    condition, and a statement that matches no row raises ``StaleDataError``
    (answered as 412). So two writers can never both apply a change on top of
    the same read, on SQLite or PostgreSQL, whether or not the route remembered
    anything. Routes hold the caller's If-Match against the row with
    ``etag.guard(row)``, which also locks the row for the rest of the request.

    Columns that record observations rather than the resource (e.g. the time of
    the last health check) are written with ``etag.observe`` so that they do not
    make a caller's ETag stale.
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


def unversioned(reason: str):
    """Declare a mapped class deliberately without a version, and say why
    (append-only, owned by a worker, a child row whose parent carries the version...).

    ``check_versioning`` refuses, at backend start, any table that is neither
    ``Versioned`` nor declared so: a new table cannot forget optimistic locking.
    """

    def mark(cls):
        if not reason.strip():
            raise ValueError("unversioned() needs a reason")
        cls.__egactl_unversioned__ = reason
        return cls

    return mark


def versioning_problems(tables: list[Any]) -> list[str]:
    """The mapped tables among ``tables`` that are neither ``Versioned`` nor declared ``unversioned``."""
    wanted = {id(t) for t in tables}
    problems = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        if id(mapper.local_table) not in wanted:
            continue
        if issubclass(cls, Versioned):
            if mapper.version_id_col is None or mapper.version_id_col.name != "version":
                problems.append(f"{cls.__module__}.{cls.__name__}: Versioned but its mapper has no version_id_col")
        elif not getattr(cls, "__egactl_unversioned__", None) or "__egactl_unversioned__" not in cls.__dict__:
            problems.append(f"{cls.__module__}.{cls.__name__} ({mapper.local_table.name}): neither Versioned nor "
                            f"declared @unversioned(reason)")
    return problems


def check_versioning(tables: list[Any]) -> None:
    """Refuse to start a backend with a table that forgot optimistic locking."""
    if problems := versioning_problems(tables):
        raise RuntimeError("every table must derive from egactl.server.db.Versioned or be declared "
                           "@unversioned(reason): " + "; ".join(problems))


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


class _NoRows(logging.Filter):
    """SQLAlchemy's debug echo logs every fetched row (message texts, numbers, names): never."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(("Row ", "Col ")))


def _quiet_sql_logging() -> None:
    # On the loggers themselves, so it holds however logging is configured (echo,
    # --log-level debug, a uvicorn --log-config). Parameters are hidden by the engine.
    for name in ("sqlalchemy.engine", "sqlalchemy.engine.Engine"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoRows) for f in logger.filters):
            logger.addFilter(_NoRows())


def private_sqlite_file(url: str) -> None:
    """Create a SQLite database file 0600 (in 0700 directories) before SQLite does.

    SQLite creates the file with the process's umask (0644, or 0666 under
    ``umask 000``) and gives its ``-wal`` and ``-shm`` files the database file's
    mode, so creating the file 0600 first keeps all three owner-only. An existing
    database file of ours is narrowed to 0600 as well.
    """
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    from egactl.paths import private_dir

    path = Path(database)
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            try:
                os.chmod(side, 0o600)
            except OSError:
                pass


def make_engine(url: str, capacity: Capacity | None = None) -> Engine:
    """The engine, its connection pool sized from ``capacity`` (see egactl.server.admission).

    The admission gate lets in at most ``capacity.concurrency`` requests, each
    using one connection at a time; the pool keeps that many and a reserve
    open, and may open as many again for a request's occasional second
    session, so an admitted request never waits for a connection.

    SQL parameters never reach a log or an error text (``hide_parameters``):
    they hold message texts, phone numbers and names.
    """
    from egactl.server.admission import Capacity

    capacity = capacity or Capacity()
    pool = {"pool_size": capacity.pool_size, "max_overflow": capacity.concurrency,
            "pool_timeout": max(1.0, capacity.queue_timeout)}
    url = normalise_url(url)
    _quiet_sql_logging()
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        busy = sqlite_busy_timeout()
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy}, hide_parameters=True,
                               **pool)

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
            # Straight to the driver: this runs at the start of every transaction, and
            # SQLAlchemy's statement path (events, a cursor result) cost more than the
            # BEGIN itself (a tenth of a cached read request's CPU). Its errors are
            # wrapped as SQLAlchemy wraps the driver's, so a write lock still held past
            # the busy timeout is an OperationalError that `is_busy` knows (a 503).
            statement = f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'DEFERRED')}"
            try:
                conn.connection.dbapi_connection.execute(statement)
            except sqlite3.Error as exc:
                raise DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **pool)


def sessionmakers(engine: Engine) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    """(read sessions, write sessions); write sessions take SQLite's write lock at BEGIN,
    and on PostgreSQL the write fence (``alone``)."""
    read = sessionmaker(engine, expire_on_commit=False)
    write_engine = engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
    write = sessionmaker(write_engine, expire_on_commit=False)
    if engine.dialect.name == "postgresql":
        event.listen(write, "after_begin", _enter_write_fence)
    return read, write


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock(session: Session, name: str) -> None:
    """Serialise allocations on ``name`` until the transaction ends.

    On PostgreSQL a transaction-scoped advisory lock; on SQLite the write
    transaction already holds the database's single write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _advisory_key(name)})


# -- the write fence --------------------------------------------------------------------------
#
# On SQLite one write transaction runs at a time. On PostgreSQL many do, each seeing only
# what was committed when each of its statements began: a change that must reach every row
# of some kind, including those another transaction is inserting right now, can miss them.
# An erasure is such a change: a send to the number, committed just after the erasure's
# statements ran, would keep the number and its text, and deliver it. So every write
# transaction on PostgreSQL holds the write fence shared (one advisory lock, taken as the
# transaction begins: writes never wait for one another on it), and a change that must see
# the database still takes it alone: it waits for the writes in progress to end, and writes
# that begin meanwhile wait for it. It waits at most FENCE_WAIT for the writes in progress,
# then gives up as busy (a 503 with Retry-After), so that a long write cannot hold every
# other write behind a waiting erasure for longer than that.

WRITE_FENCE = _advisory_key("egactl-write-fence")
FENCE_WAIT = "5s"
_ALONE = "egactl_write_fence_alone"


def _enter_write_fence(session: Session, transaction: Any, connection: Any) -> None:
    """Every write transaction on PostgreSQL, as it begins: the fence, shared or alone."""
    if session.info.get(_ALONE):
        _take_fence_alone(connection)
    else:
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock_shared(%(k)s)", {"k": WRITE_FENCE})


def _take_fence_alone(connection: Any) -> None:
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{FENCE_WAIT}'")
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", {"k": WRITE_FENCE})
    connection.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")


def alone(session: Session) -> None:
    """Run this write transaction with no other write transaction in progress beside it
    (PostgreSQL; SQLite's single writer already is). Call it before the session's first
    statement: the transaction then takes the write fence alone as it begins (a session
    already in a transaction takes it at once, on top of its shared hold)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.info[_ALONE] = True
    if session.in_transaction():
        _take_fence_alone(session.connection())


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
