"""egactl serve: the reference backend over HTTP, and issuing its first tokens."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from egactl import context, paths
from egactl.errors import InvalidInput
from egactl.grammar import _announcing
from egactl.output import Column

app = typer.Typer(help="Run the reference backend over HTTP (uvicorn).", add_completion=False, epilog="""Examples:

  egactl serve --port 8080 --database-url postgresql://egactl@db/egactl

  egactl serve --log-file /var/log/egactl/server.log --log-level info

  egactl serve migrate --dry-run --database-url postgresql://egactl@db/egactl

  egactl serve tokens create --role admin --database-url postgresql://egactl@db/egactl

On a shared database `egactl serve` does not change the schema of a component
it already holds: after installing a new release, run `egactl serve migrate`
once, then start (or restart) the API processes; they refuse a schema that is
behind, with one line naming that command (exit 5). The sandbox upgrades itself.

The log never holds SQL parameters, fetched rows, request bodies or tokens;
files it creates (a SQLite database, its -wal/-shm, the log) are 0600.
""")

DatabaseUrl = Annotated[Optional[str], typer.Option("--database-url", metavar="URL",
                                                    help="sqlite:///path or postgresql://… (env EGACTL_DATABASE_URL).")]


def database_url(flag: str | None) -> str:
    if flag:
        return flag
    if env := os.environ.get("EGACTL_DATABASE_URL"):
        return env
    path = paths.data_dir() / "server.db"
    paths.private_dir(path.parent)
    return f"sqlite:///{path}"


class LogLevel(str, enum.Enum):
    # No "trace": uvicorn's trace level logs every request's headers, bearer tokens included.
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


@app.callback(invoke_without_command=True)
def serve(ctx: typer.Context,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
          database_url_: DatabaseUrl = None,
          workers: Annotated[bool, typer.Option("--workers/--no-workers", help="Run background workers (e.g. SMS delivery) in this process.")] = True,
          log_level: Annotated[LogLevel, typer.Option(help="Server log level.", case_sensitive=False)] = LogLevel.warning,
          log_file: Annotated[Optional[Path], typer.Option("--log-file", metavar="PATH", help="Write the server log to this file (created 0600) instead of stderr.")] = None,
          sql_echo: Annotated[bool, typer.Option("--sql-echo", envvar="EGACTL_SQL_ECHO", help="Log every SQL statement (never its parameters or rows; env EGACTL_SQL_ECHO).")] = False,
          concurrency: Annotated[Optional[int], typer.Option(
              min=1, max=1000, envvar="EGACTL_SERVE_CONCURRENCY", show_default=False,
              help="Requests at work on the database at once; the connection and thread pools are sized from it "
                   "(default 8).")] = None,
          queue_depth: Annotated[Optional[int], typer.Option(
              min=0, max=100000, envvar="EGACTL_SERVE_QUEUE_DEPTH", show_default=False,
              help="Requests that may wait for their turn; past it a request gets 503 with Retry-After at once "
                   "(default 1000).")] = None,
          queue_timeout: Annotated[Optional[float], typer.Option(
              min=0.001, max=600, envvar="EGACTL_SERVE_QUEUE_TIMEOUT", metavar="SECONDS", show_default=False,
              help="Longest wait for a turn; then 503 with Retry-After (default 5).")] = None,
          processes: Annotated[int, typer.Option(
              min=1, max=64, envvar="EGACTL_SERVE_PROCESSES",
              help="API processes sharing the port (one per CPU core serves the most); each has its own "
                   "--concurrency and queue.")] = 1):
    """Serve the API at http://HOST:PORT/api/v1 (OpenAPI at /openapi.json).

    The server log never holds SQL parameters, fetched rows, request bodies or
    tokens: only statements, request ids, errors and failed authentications
    (with the token's prefix, never the token).
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from egactl.server.admission import Capacity
    from egactl.server.app import create_app

    _setup_logging(log_level.value, log_file, sql_echo)
    url = database_url(database_url_)
    capacity = Capacity.from_env(concurrency=concurrency, queue_depth=queue_depth, queue_timeout=queue_timeout)
    # Creates what the database has never held (a new database, a new plugin) before any
    # API process starts; a schema behind this release is refused: `egactl serve migrate`.
    app_ = create_app(url, run_workers=workers and processes == 1, capacity=capacity)
    where = f"http://{host}:{port} (database {_safe(url)}"
    if processes == 1:
        context.get().io.status(f"egactl backend on {where})")
        uvicorn.run(app_, host=host, port=port, log_level=log_level.value, log_config=None, access_log=False)
        return
    # Several processes: uvicorn starts each with _process_app(); the background
    # workers run once, here in the supervising process, not once per process.
    import threading

    from egactl.server.app import _start_workers

    os.environ.update(EGACTL_DATABASE_URL=url, EGACTL_SERVE_CONCURRENCY=str(capacity.concurrency),
                      EGACTL_SERVE_QUEUE_DEPTH=str(capacity.queue_depth),
                      EGACTL_SERVE_QUEUE_TIMEOUT=str(capacity.queue_timeout),
                      EGACTL_SERVE_LOG_LEVEL=log_level.value, EGACTL_SERVE_LOG_FILE=str(log_file or ""),
                      EGACTL_SQL_ECHO="1" if sql_echo else "")
    from egactl.server import listening

    # A socket for each process (where the system spreads connections over them), so that
    # connections kept open are spread over the processes: egactl.server.listening.
    holder, sockets = listening.reserve(host, port) if listening.spreads() else (None, None)
    if sockets is not None:
        where = f"http://{host}:{sockets.port} (database {_safe(url)}"  # port 0: the one port chosen
    stop = threading.Event()
    threads = _start_workers(app_.state.backend, stop) if workers else []
    context.get().io.status(f"egactl backend on {where}, {processes} processes)")
    try:
        if sockets is None:
            uvicorn.run("egactl.commands.serve:_process_app", factory=True, workers=processes, host=host, port=port,
                        log_level=log_level.value, log_config=None, access_log=False)
        else:
            from uvicorn.supervisors import Multiprocess

            # What uvicorn.run does for several workers, with the sockets given rather than one bound.
            config = uvicorn.Config("egactl.commands.serve:_process_app", factory=True, workers=processes,
                                    host=host, port=sockets.port, log_level=log_level.value, log_config=None,
                                    access_log=False)
            Multiprocess(config, sockets=sockets).run()
    finally:
        if holder is not None:
            holder.close()
        stop.set()
        for t in threads:
            t.join(timeout=5)
        app_.state.backend.engine.dispose()


def _process_app():
    """The app of one API process of `egactl serve --processes N` (settings from the environment)."""
    from egactl.server.app import create_app

    log_file = os.environ.get("EGACTL_SERVE_LOG_FILE")
    _setup_logging(os.environ.get("EGACTL_SERVE_LOG_LEVEL", "warning"), Path(log_file) if log_file else None,
                   bool(os.environ.get("EGACTL_SQL_ECHO")))
    return create_app(os.environ["EGACTL_DATABASE_URL"])


def _setup_logging(level: str, log_file: Path | None, sql_echo: bool) -> None:
    """One handler for the whole server (uvicorn, egactl, SQLAlchemy): stderr, or an owner-only file."""
    import logging
    import sys

    stream = paths.create_private(log_file, append=True, encoding="utf-8") if log_file else sys.stderr
    handler = logging.StreamHandler(stream)
    from egactl.server.security import SafeFormatter

    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Statements only (INFO); SQLAlchemy's DEBUG adds the rows, which egactl.server.db filters out anyway.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO if sql_echo else logging.WARNING)
    # httpx logs every outgoing URL at INFO (gateway calls may carry numbers in them).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _safe(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


tokens_app = typer.Typer(help="Issue tokens directly in the server's database (bootstrap).", no_args_is_help=True,
                         add_completion=False)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def create_token(role: Annotated[str, typer.Option(help="admin, operator or helpdesk.")],
                 subject: Annotated[str, typer.Option(help="Who the token is for.")] = "admin",
                 institution: Annotated[Optional[list[str]], typer.Option("--institution", "-i", help="For operators: an institution code (repeatable).")] = None,
                 expires_in_days: Annotated[Optional[int], typer.Option(min=1, max=3650, help="Expire after N days.")] = None,
                 database_url_: DatabaseUrl = None):
    """Issue a token directly in the server's database (bootstrap); prints it once.

    For the first admin of a new database, before any API is running; afterwards
    admins use `egactl auth tokens create` against the API. Only the token's hash
    is kept; with -o json the token is in the "token" field.

    Examples:

      egactl serve tokens create --role admin --subject admin@ega.go.tz

      egactl serve tokens create --role operator -i RITA --subject ops@rita.go.tz --expires-in-days 90 -o json

      egactl serve tokens create --role admin --database-url postgresql://egactl@db/egactl -o json > admin.json
    """
    import datetime as dt

    from sqlalchemy import select

    from egactl.server.app import create_app
    from egactl.server.models import Institution
    from egactl.server.security import ROLES, issue_token

    ctx = context.get()
    if role not in ROLES:
        raise InvalidInput(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    codes = sorted({c.upper() for c in institution or []})
    if role == "operator" and not codes:
        raise InvalidInput("an operator token needs at least one --institution")
    be = create_app(database_url(database_url_)).state.backend
    with be.write_sessions() as session:
        known = set(session.scalars(select(Institution.code).where(Institution.code.in_(codes))))
        if missing := [c for c in codes if c not in known]:
            raise InvalidInput(f"unknown institution {missing[0]}", hint="create it first with `egactl institutions create`")
        now = be.now()
        expires = now + dt.timedelta(days=expires_in_days) if expires_in_days else None
        token, row = issue_token(session, subject=subject, role=role, institutions=codes, now=now, expires_at=expires)
        session.commit()
        record = {"id": row.id, "subject": subject, "role": role, "institutions": codes,
                  "expires_at": expires.isoformat() if expires else None, "token": token}
    be.engine.dispose()
    if ctx.fmt == "table":
        ctx.io.status(f"Token for {subject} ({role}); it is shown only now:")
        ctx.io.out.write(token + "\n")
    else:
        ctx.render(record, [Column("id"), Column("subject"), Column("role"), Column("token")])


# The name before the grammar: hidden, with a notice naming the new one, for one release.
# (`formerly` renames within one group; this command moved into the `tokens` group.)
app.command("create-token", hidden=True, help="Old name of `tokens create`.")(
    _announcing(create_token, "create-token", "tokens create"))


@app.command("migrate")
def migrate(database_url_: DatabaseUrl = None,
            dry_run: Annotated[bool, typer.Option("--dry-run", help="Print each component's pending revisions; change nothing.")] = False):
    """Bring the database's schema up to this release, component by component.

    Each component (the core and every installed plugin) has its own schema
    history; its pending revisions run in order, all in one transaction, each
    component in a savepoint. A component the database has never held is
    created; a database made by a release before these histories is adopted at
    the version it records, then upgraded. Several runs at once are safe: they
    queue on a lock and the later ones find nothing to do.

    Run it once per release on a shared database, before restarting the
    `egactl serve` processes. Exit 6 if some components failed (the others are
    upgraded; the failed ones are unchanged), 5 if the database is newer than
    this egactl, 7 if it is unreachable or stayed busy.

    Examples:

      egactl serve migrate --dry-run --database-url postgresql://egactl@db/egactl

      egactl serve migrate --database-url postgresql://egactl@db/egactl -o json
    """
    from sqlalchemy.exc import ArgumentError, OperationalError

    from egactl.errors import BUSY_HINT, Busy, PartialFailure, Unreachable
    from egactl.server import schema
    from egactl.server.app import components_of, load_parts, skip
    from egactl.server.db import check_versioning, is_busy, make_engine

    ctx = context.get()
    _warnings_to(ctx.io.warn)
    url = database_url(database_url_)
    try:
        engine = make_engine(url)
    except (ArgumentError, ValueError) as exc:
        raise InvalidInput(f"--database-url: {exc}") from None
    failed: dict[str, str] = {}

    def fail(name: str, exc: BaseException) -> None:
        failed[name] = f"{type(exc).__name__}: {exc}"
        skip(name, exc)

    components = []
    for comp in components_of(load_parts()):
        try:
            check_versioning(comp.tables)
            _ = comp.script
        except Exception as exc:
            fail(comp.name, exc)
            continue
        components.append(comp)
    try:
        before = {p.component: p for p in _plans(schema, engine, components, fail)}
        runnable = [c for c in components if c.name in before]
        if not dry_run:
            schema.migrate(engine, runnable, on_error=fail)
            after = {p.component: p for p in _plans(schema, engine, runnable, fail)}
    except OperationalError as exc:
        if is_busy(exc):
            raise Busy("the database stayed busy (another process held it)", hint=BUSY_HINT) from None
        raise Unreachable(f"cannot reach the database {_safe(url)}: {str(exc.orig).strip().splitlines()[0]}") from None
    finally:
        engine.dispose()
    records = []
    for name, p in before.items():
        record = {"component": name, "from": p.current, "to": p.head,
                  "revisions": [f"{s.revision}: {' '.join(s.doc.split())}" for s in p.pending]}
        if dry_run:
            record["action"] = {"current": "none", "create": "create", "adopt": "adopt and upgrade" if p.pending
                                else "adopt", "upgrade": "upgrade", "ahead": "refuse: newer"}[p.action]
        elif name in failed:
            record["action"] = "failed"
            record["error"] = failed[name]
        else:
            done = after.get(name)
            record["action"] = {"current": "none", "create": "created", "adopt": "adopted and upgraded"
                                if p.pending else "adopted", "upgrade": "upgraded", "ahead": "refused"}[p.action]
            record["to"] = done.current if done is not None and done.current else p.head
        records.append(record)
    ctx.render(records, [Column("component"), Column("action"), Column("from", format=lambda v: v or "-"),
                         Column("to", format=lambda v: v or "-"),
                         Column("revisions", format=lambda v: "; ".join(v) if v else "-")])
    if dry_run:
        schema.refuse(list(before.values()), upgrade=True)  # a database newer than this egactl: exit 5
    if failed:
        total = len(set(before) | set(failed))
        raise PartialFailure(f"{len(failed)} of {total} components not migrated ({', '.join(sorted(failed))}), "
                             "left as they were", hint="the warnings above say why")


def _warnings_to(warn) -> None:
    """The backend's warnings (a plugin skipped) as the command's own "warning: ..." lines on stderr."""
    import logging

    class Warnings(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                warn(record.getMessage())

    logger = logging.getLogger("egactl.server")
    logger.handlers[:] = [h for h in logger.handlers if type(h).__name__ != "Warnings"] + [Warnings()]
    logger.propagate = False


def _plans(schema, engine, components, fail):
    """Each component's plan; a component whose plan fails is reported and left out."""
    plans = []
    with engine.connect() as conn:
        for comp in components:
            try:
                plans.append(schema.plan(conn, comp))
            except Exception as exc:
                from egactl.server.db import is_busy

                if is_busy(exc):
                    raise
                fail(comp.name, exc)
    return plans
