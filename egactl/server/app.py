"""The app factory: core routes, every plugin's backend part, one database."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from fastapi import FastAPI

from egactl import __version__
from egactl.plugin import BackendPart
from egactl.server import problems
from egactl.server.backend import Backend
from egactl.server.clock import Clock, system_clock
from egactl.server.db import make_engine, sessionmakers
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
               run_workers: bool = False) -> FastAPI:
    """Build the backend.

    ``plugins``: the plugin names to mount (None: all installed).
    ``run_workers``: start each plugin's workers in background threads (``egactl serve``).
    """
    parts = load_parts(plugins)
    engine = make_engine(database_url)
    read, write = sessionmakers(engine)
    be = Backend(engine=engine, read_sessions=read, write_sessions=write, parts=parts,
                 clock=clock or system_clock, sandbox=sandbox, overrides=dict(settings or {}))
    components = [Component("core", CORE_TABLES, [])]
    components += [Component(name, part.tables, part.migrations) for name, part in parts.items()]
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

    from egactl.server.routes import audit, institutions, tokens

    app.include_router(institutions.router, prefix="/api/v1/institutions")
    app.include_router(tokens.router, prefix="/api/v1/tokens")
    app.include_router(audit.router, prefix="/api/v1/audit")
    for name, part in parts.items():
        app.include_router(part.router, prefix=f"/api/v1/{name}")
    return app


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
