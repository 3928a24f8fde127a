"""The sandbox: the reference backend on this machine, reached over real HTTP.

A sandbox command talks to the sandbox's server (``egactl.sandbox_server``),
started on first use and reached over a Unix socket (``egactl.sandbox_client``).
Where there can be no server (``EGACTL_SANDBOX_IDLE=0``, no Unix sockets, a data
directory too deep for a socket's path, outside Linux) or it could not start, the command
builds the backend in its own process instead, as below.

httpx's ``ASGITransport`` is asynchronous, while egactl's client is synchronous
(and uses threads for bulk concurrency). ``SyncASGITransport`` bridges the two:
it runs one event loop in a background thread and hands each request to it, so
every command still does a genuine HTTP exchange with the app — headers, status
codes, problem+json, idempotency and all.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx

from egactl import credentials, paths
from egactl.errors import BUSY_HINT, Busy

SANDBOX_SUBJECT = "sandbox-admin"


class SyncASGITransport(httpx.BaseTransport):
    def __init__(self, app):
        import asyncio  # here: a command using the sandbox's server imports this module, not asyncio
        import threading

        self.app = app
        # As a real server would: an unhandled error is the app's 500 problem
        # response, never the server's exception (SQL, data) raised in the client.
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="egactl-asgi", daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        body = request.read()

        async def call():
            inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            response = await self._inner.handle_async_request(inner)
            content = await response.aread()
            return response.status_code, response.headers, content

        status, headers, content = asyncio.run_coroutine_threadsafe(call(), self._loop).result()
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


def database_path() -> Path:
    return paths.data_dir() / "sandbox.db"


def log_path() -> Path:
    return paths.data_dir() / "sandbox.log"


class _SandboxLog(logging.Handler):
    """The in-process backend's log, where a server's log would be.

    Without a handler, Python's last-resort handler prints the server's
    tracebacks (SQL and the rows' data included) into the user's terminal. Here
    everything goes to an owner-only file, and only plain one-line warnings
    (e.g. a plugin backend skipped) reach stderr; a failed request still tells
    the user its request id, which finds the traceback in the file.
    """

    def __init__(self, warn):
        super().__init__(logging.INFO)
        self.warn = warn
        path = log_path()
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        self.file = logging.FileHandler(path, encoding="utf-8", delay=True)
        from egactl.server.security import SafeFormatter

        self.file.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.file.handle(record)
        # A failed authentication is already the command's own error line; its log line is for the file.
        if record.levelno >= logging.WARNING and not record.exc_info and record.name != "egactl.server.auth":
            try:
                self.warn(record.getMessage())
            except (ValueError, OSError):
                pass  # the command that opened this sandbox has ended and closed its stderr

    def close(self) -> None:
        self.file.close()
        super().close()


def route_server_log(warn, name: str = "egactl.server") -> None:
    """The backend's log (logger ``name`` and below) to the sandbox log file; its one-line
    warnings to ``warn``."""
    logger = logging.getLogger(name)
    for old in [h for h in logger.handlers if isinstance(h, _SandboxLog)]:
        logger.removeHandler(old)
        old.close()
    logger.addHandler(_SandboxLog(warn))
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


def open_sandbox(profile: str, warn) -> tuple[httpx.BaseTransport, str]:
    """(transport, a token that works on it): the sandbox's server, else the backend in this process."""
    from egactl.sandbox_client import open_server

    return open_server(profile, warn) or open_in_process(profile, warn)


def open_in_process(profile: str, warn) -> tuple[SyncASGITransport, str]:
    """Start the in-process backend and return (transport, a token that works on it).

    On first use an admin identity is created and its token kept like any other
    (keyring, or the owner-only file); if the sandbox database was removed, a
    fresh identity is made.
    """
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError

    from egactl.server.app import create_app
    from egactl.server.db import is_busy
    from egactl.server.models import ApiToken
    from egactl.server.security import hash_token, issue_token

    db_path = database_path()
    paths.private_dir(db_path.parent)
    route_server_log(warn)
    try:
        app = create_app(f"sqlite:///{db_path}", sandbox=True)
    except Busy as exc:
        raise Busy(f"the sandbox database {db_path} stayed busy (other egactl commands are using it)",
                   hint=exc.hint) from None
    be = app.state.backend
    try:
        token = credentials.get(profile)
        if token is not None:
            with be.read_sessions() as session:
                if session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(token.value))):
                    return SyncASGITransport(app), token.value
            if token.source.startswith("env"):
                return SyncASGITransport(app), token.value  # let the server say it is invalid
        with be.write_sessions() as session:
            value, _ = issue_token(session, subject=SANDBOX_SUBJECT, role="admin", now=be.now())
            session.commit()
    except OperationalError as exc:
        be.engine.dispose()
        if is_busy(exc):
            raise Busy(f"the sandbox database {db_path} stayed busy (other egactl commands are using it)",
                       hint=BUSY_HINT) from None
        raise
    where, is_file = credentials.store(profile, value)
    if is_file:
        warn(f"no system keyring found; the sandbox token is kept in {where} (readable only by you)")
    return SyncASGITransport(app), value
