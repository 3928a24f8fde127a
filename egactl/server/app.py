"""The app factory: core routes, every plugin's backend part, one database."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from typing import Any

from fastapi import FastAPI

from egactl import __version__
from egactl.plugin import BackendPart
from egactl.server import problems
from egactl.server.admission import AdmissionMiddleware, Capacity
from egactl.server.backend import Backend
from egactl.server.clock import Clock, system_clock
from egactl.server.db import check_versioning, make_engine, sessionmakers
from egactl.server.migrations import Component, migrate
from egactl.server.models import CORE_TABLES

log = logging.getLogger("egactl.server")


def load_parts(only: list[str] | None = None) -> dict[str, BackendPart]:
    """Every installed plugin's backend part (a broken plugin is logged and skipped)."""
    from egactl.discovery import PluginError, found, import_path

    parts: dict[str, BackendPart] = {}
    for name, f in found().items():
        if only is not None and name not in only:
            continue
        try:
            plugin = f.load()
            if plugin.backend:
                parts[name] = import_path(plugin.backend)
        except (PluginError, ImportError, AttributeError) as exc:
            log.warning("skipping plugin %s: %s", name, exc)
    return parts


def create_app(database_url: str, *, sandbox: bool = False, clock: Clock | None = None,
               settings: dict[str, Any] | None = None, plugins: list[str] | None = None,
               run_workers: bool = False, capacity: Capacity | None = None) -> FastAPI:
    """Build the backend.

    ``plugins``: the plugin names to mount (None: all installed).
    ``run_workers``: start each plugin's workers in background threads (``egactl serve``).
    ``capacity``: requests at work at once and the queue in front of them
    (None: ``EGACTL_SERVE_*`` or the defaults; the sandbox: the defaults);
    see egactl.server.admission.
    """
    capacity = capacity or (Capacity() if sandbox else Capacity.from_env())
    parts = load_parts(plugins)
    engine = make_engine(database_url, capacity)
    read, write = sessionmakers(engine)
    be = Backend(engine=engine, read_sessions=read, write_sessions=write, parts=parts,
                 clock=clock or system_clock, sandbox=sandbox, overrides=dict(settings or {}))
    components = [Component("core", CORE_TABLES, [])]
    components += [Component(name, part.tables, part.migrations) for name, part in parts.items()]
    check_versioning([t for comp in components for t in comp.tables])
    fresh = migrate(engine, components, be.now)
    if sandbox:
        _seed(be, fresh)

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

    from egactl.server.routes import audit, institutions, tokens

    app.include_router(institutions.router, prefix="/api/v1/institutions")
    app.include_router(tokens.router, prefix="/api/v1/tokens")
    app.include_router(audit.router, prefix="/api/v1/audit")
    for name, part in parts.items():
        app.include_router(part.router, prefix=f"/api/v1/{name}")
    return app


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


def _usable_request_id(value: bytes) -> bool:
    return 0 < len(value) <= 80 and all(0x21 <= b <= 0x7E for b in value)


def _seed(be: Backend, fresh: list[str]) -> None:
    from egactl.server.seed import seed_core

    with be.write_sessions() as session:
        if "core" in fresh:
            seed_core(session, be.now())
        for name in fresh:
            part = be.parts.get(name)
            if part is not None and part.seed is not None:
                part.seed(session)
        session.commit()


def _start_workers(be: Backend, stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for name, part in be.parts.items():
        for worker in part.workers:
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
