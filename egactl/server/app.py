"""The app factory: core routes, every plugin's backend part, one database."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from typing import Any, Callable

from fastapi import FastAPI

from egactl import __version__
from egactl.errors import BUSY_HINT, Busy
from egactl.plugin import BackendPart, Worker
from egactl.server import problems
from egactl.server.admission import AdmissionMiddleware, Capacity
from egactl.server.backend import Backend
from egactl.server.clock import Clock, system_clock
from egactl.server.db import check_versioning, is_busy, make_engine, sessionmakers
from egactl.server.schema import Component, migrate
from egactl.server.models import CORE_TABLES

CORE_HISTORY = "egactl.server.migrations"

log = logging.getLogger("egactl.server")


def load_parts(only: list[str] | None = None) -> dict[str, BackendPart]:
    """Every installed plugin's backend part.

    A plugin whose package or backend raises anything while it is imported (an
    ImportError, a SyntaxError, a RuntimeError of its own...) is skipped with
    one warning line; the core and the other plugins go on.
    """
    from egactl.discovery import found

    parts: dict[str, BackendPart] = {}
    for name, f in found().items():
        if only is not None and name not in only:
            continue
        try:
            part = f.load_backend()
        except (Exception, SystemExit) as exc:
            skip(name, exc)
            continue
        if part is not None:
            parts[name] = part
    return parts


def components_of(parts: dict[str, BackendPart]) -> list[Component]:
    """The schema's components: the core (history egactl.server.migrations), then each plugin's part."""
    return [Component("core", CORE_TABLES, CORE_HISTORY),
            *(Component(name, part.tables, part.migrations) for name, part in parts.items())]


def skip(name: str, exc: BaseException) -> None:
    """One warning line for a plugin left out of the backend (its traceback at INFO, for the log file)."""
    from egactl.discovery import PluginError

    reason = exc.reason.removeprefix("backend: ") if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
    log.warning("plugin %r skipped: its backend failed (%s); `egactl plugins list` shows it", name, reason)
    log.info("plugin %r: the failure in full", name, exc_info=exc)


def create_app(database_url: str, *, sandbox: bool = False, clock: Clock | None = None,
               settings: dict[str, Any] | None = None, plugins: list[str] | None = None,
               run_workers: bool = False, capacity: Capacity | None = None,
               upgrade: bool | None = None) -> FastAPI:
    """Build the backend.

    ``plugins``: the plugin names to mount (None: all installed).
    ``run_workers``: start each plugin's workers in background threads (``egactl serve``).
    ``capacity``: requests at work at once and the queue in front of them
    (None: ``EGACTL_SERVE_*`` or the defaults; the sandbox: the defaults);
    see egactl.server.admission.
    ``upgrade``: apply pending schema revisions (egactl.server.schema) at start;
    None: the sandbox does, ``egactl serve`` does not (several processes share its
    database: ``egactl serve migrate`` upgrades it once, explicitly). Without it,
    a schema behind this release raises ``egactl.errors.Conflict`` (exit 5) naming
    the command; components the database has never seen are created either way.

    A plugin whose backend fails to import, to migrate, to seed or to mount is
    left out (one warning); a database that stays busy while the schema is
    brought up to date raises ``egactl.errors.Busy`` (exit 7).
    """
    capacity = capacity or (Capacity() if sandbox else Capacity.from_env())
    parts = load_parts(plugins)
    engine = make_engine(database_url, capacity)
    read, write = sessionmakers(engine)
    be = Backend(engine=engine, read_sessions=read, write_sessions=write, parts=parts,
                 clock=clock or system_clock, sandbox=sandbox, overrides=dict(settings or {}),
                 core_workers=core_workers())
    from egactl.server import idempotency

    try:
        idempotency.check_settings(be)
    except Exception:
        engine.dispose()
        raise
    components = components_of(parts)

    def failed(name: str, exc: BaseException) -> None:
        if name == "core":
            raise exc
        skip(name, exc)
        parts.pop(name, None)

    # A plugin with a table that forgot optimistic locking is not mounted at all.
    for comp in list(components):
        try:
            check_versioning(comp.tables)
        except RuntimeError as exc:
            failed(comp.name, exc)
            components.remove(comp)

    try:
        migrate(engine, components, seed=_seeder(be) if sandbox else None, on_error=failed,
                upgrade=sandbox if upgrade is None else upgrade)
    except Exception as exc:
        engine.dispose()
        if is_busy(exc):
            raise Busy("the database stayed busy while the backend started (another process held it)",
                       hint=BUSY_HINT) from None
        raise

    from egactl.server import retention

    retention.warn_of_former_settings(be)  # at start, where `serve` and the sandbox show start-up warnings

    stop = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        threads = _start_workers(be, stop) if run_workers else []
        yield
        stop.set()
        for t in threads:
            t.join(timeout=5)
        engine.dispose()

    app = FastAPI(
        title="egactl reference backend",
        version=__version__,
        description="The REST contract of e-GA's shared ICT services, as egactl speaks it.",
        lifespan=lifespan,
    )
    app.state.backend = be
    problems.install(app)
    app.add_middleware(AdmissionMiddleware, capacity=capacity)  # inside RequestIdMiddleware: refusals carry the id
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(ServerTimingMiddleware)  # outermost: its time holds everything the server did

    from egactl.server.routes import audit, find, institutions, privacy, tokens

    app.include_router(institutions.router, prefix="/api/v1/institutions")
    app.include_router(tokens.router, prefix="/api/v1/tokens")
    app.include_router(audit.router, prefix="/api/v1/audit")
    app.include_router(find.router, prefix="/api/v1/find")
    app.include_router(privacy.router, prefix="/api/v1/privacy")
    for name, part in list(parts.items()):
        try:
            _require_frame(part.router)
            app.include_router(part.router, prefix=f"/api/v1/{name}")
        except (Exception, SystemExit) as exc:
            failed(name, exc)
    return app


def check_mountable(part: BackendPart) -> None:
    """What ``create_app`` refuses to mount, checked without starting a backend (``egactl plugins
    list``): a table without optimistic locking, a route outside the frame. RuntimeError says which."""
    check_versioning(part.tables)
    _require_frame(part.router)


def _require_frame(router: Any) -> None:
    """Every route of a plugin runs in the route frame (authentication, the read-only
    help desk, idempotency, audit, one transaction): a route that would not — a
    plain ``APIRouter()`` without ``route_class=ApiRoute``, a websocket, a mounted
    app — keeps the whole plugin from being mounted."""
    from egactl.server.scope import ApiRoute

    try:  # FastAPI >= 0.16x keeps included routers as such; this walks them
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: the routes are already flat
        routes = [(getattr(r, "path", "?"), r) for r in router.routes]
    else:
        routes = [(rc.path, rc.original_route) for rc in iter_route_contexts(router.routes)]
    for path, route in routes:
        if not isinstance(route, ApiRoute):
            raise RuntimeError(f"route {path} is a {type(route).__name__}, not an egactl ApiRoute: it would be "
                               "served without authentication (use APIRouter(route_class=ApiRoute))")


class RequestIdMiddleware:
    """Every request has a usable X-Request-ID, and every response names it.

    The client sends one (shown in its errors); a caller that sends none, or one
    the audit log cannot hold (over 80 characters, not printable ASCII), gets a
    fresh one instead of a failed mutation. Routes, problems and the audit log
    all read the header, so they agree on it.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = [(k, v) for k, v in scope["headers"] if k != b"x-request-id"]
        sent = [v for k, v in scope["headers"] if k == b"x-request-id"]
        rid = sent[0] if len(sent) == 1 and _usable_request_id(sent[0]) else str(uuid.uuid4()).encode()
        scope = dict(scope, headers=[*headers, (b"x-request-id", rid)])

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"x-request-id", rid)])
            await send(message)

        started = False

        async def send_tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            # Answered here rather than by Starlette's outermost error middleware,
            # which would answer without the request id the log line names.
            if started:
                raise
            from starlette.requests import Request

            response = problems.unexpected(Request(scope), log_it=True)
            await response(scope, receive, send_with_id)


class ServerTimingMiddleware:
    """Every answer says how long the server took over it: ``Server-Timing: app;dur=<ms>``.

    Measured from the request's arrival to the start of its answer (status and
    headers), admission queue included; successes and problems alike, since it
    wraps everything else. A ``queue;dur=`` the admission gate already set stays
    in the same header (``queue;dur=0.1, app;dur=3.2``). ``--debug`` shows it
    beside the client's own time; bench/scale.py reports its median.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def send_timed(message):
            if message["type"] == "http.response.start":
                metric = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                headers = list(message.get("headers", []))
                for i, (name, value) in enumerate(headers):
                    if name.lower() == b"server-timing":
                        headers[i] = (name, value + b", " + metric)
                        break
                else:
                    headers.append((b"server-timing", metric))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_timed)


def _usable_request_id(value: bytes) -> bool:
    return 0 < len(value) <= 80 and all(0x21 <= b <= 0x7E for b in value)


def _seeder(be: Backend) -> Callable[[Any, str], None]:
    """Sandbox example data for a component just created, in the migration's own
    transaction: concurrent first uses of a new sandbox see it seeded or not yet created."""
    from sqlalchemy.orm import Session

    from egactl.server.seed import seed_sandbox

    def seed(conn: Any, name: str) -> None:
        fill = (lambda s: seed_sandbox(s, be.now())) if name == "core" else getattr(be.parts.get(name), "seed", None)
        if fill is None:
            return
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            if name != "core" and _takes_clock(fill):
                fill(session, be.now())
            else:
                fill(session)  # the core's dates itself; an SDK 1.0 seed takes no clock
            session.commit()  # releases the session's savepoint; the migration commits

    return seed


def _takes_clock(seed: Callable[..., Any]) -> bool:
    import inspect

    try:
        params = inspect.signature(seed).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def core_workers() -> list[Worker]:
    """The core's own background jobs, run as the plugins' are (``egactl serve``: a thread each, in
    the supervising process when there are several; the sandbox: a tick after each change)."""
    from egactl.server import idempotency, retention

    return [retention.WORKER, idempotency.PURGE_WORKER]


def _start_workers(be: Backend, stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for name, worker in be.all_workers():
        def loop(worker=worker, name=name):
            while not stop.is_set():
                try:
                    worker.tick(be)
                except Exception:
                    log.exception("worker %s/%s failed", name, worker.name)
                stop.wait(worker.interval)

        t = threading.Thread(target=loop, name=f"egactl-worker-{name}-{worker.name}", daemon=True)
        t.start()
        threads.append(t)
    return threads
