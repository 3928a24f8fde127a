"""The sandbox's server: the backend a sandbox command talks to, kept running between commands.

Building the backend (importing FastAPI, SQLAlchemy and every plugin's backend,
mounting the routes, checking the schema) costs a command about a second and a
half; the request itself a few milliseconds. So the first sandbox command starts
this process (``egactl.sandbox_client``), and every later one reaches it over a
Unix socket, as a command reaches ``egactl serve`` over TCP: the same app
(``create_app(sandbox=True)``), a real HTTP exchange, and the sandbox's workers
still run after each mutating request, before its answer (``scope._commit``).

It listens on nothing but its socket, ``<data dir>/sandbox-server/<key>.sock``
(the directory 0700, the socket 0600), and exits:

- after ``EGACTL_SANDBOX_IDLE`` seconds with no connection open and no request
  (600 by default): first it removes its socket, so that a command arriving now
  starts a new server instead of talking to one that is leaving, then it waits a
  moment for a connection already under way, then it exits;
- when asked (``POST /_sandbox/stop``, what ``egactl sandbox stop`` sends);
- when its database file is removed or replaced (a reset sandbox is a new
  sandbox), or egactl's code it runs has changed on disk: a command that opens it
  then is told so (410) and starts a new one.

Beside the app it answers two control paths, ``/_sandbox/open`` (a command's
first request: checks its stored token and issues one when needed, as the
in-process sandbox did, and hands back the warnings the backend gave when it
started) and ``/_sandbox/stop``. Everything else is the app's. The warnings the
backend logs while it handles a request (a worker's "sms delivery paused: ...")
go back to the command in ``X-Egactl-Sandbox-Warning`` headers, so the user sees
them on the command's stderr, as with the in-process sandbox; the full log is the
sandbox log file.

Run as ``python -m egactl.sandbox_server SOCKET``; only ``egactl.sandbox_client``
starts it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from egactl.sandbox_client import DEFAULT_IDLE, WARNING_HEADER, idle_seconds

CONTROL_PREFIX = "/_sandbox/"
DRAIN = 0.3  # seconds between removing the socket and exiting, for a connection already under way

log = logging.getLogger("egactl.server")

_request_warnings: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("sandbox_request_warnings",
                                                                                     default=None)


class Warnings:
    """Where the backend's one-line warnings go: the request's answer, else the start-up list."""

    def __init__(self) -> None:
        self.at_start: list[str] = []
        self.started = False  # afterwards, a warning outside a request is for the log file only

    def __call__(self, message: str) -> None:
        current = _request_warnings.get()
        if current is not None:
            current.append(message)
        elif not self.started:
            self.at_start.append(message)


def _code_stamp() -> float:
    """The newest modification time of egactl's and the plugins' loaded source files."""
    newest = 0.0
    for name, module in list(sys.modules.items()):
        if not name.startswith("egactl") and name != "__main__":  # __main__: this module, run with -m
            continue
        path = getattr(module, "__file__", None)
        if path:
            try:
                newest = max(newest, os.stat(path).st_mtime)
            except OSError:
                newest = float("inf")  # a source file gone: an upgrade under way
    return newest


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Sandbox:
    """The ASGI app this process serves: the backend, plus the two control paths."""

    def __init__(self, app, socket_path: Path, db_path: Path, warnings: Warnings):
        self.app = app
        self.backend = app.state.backend
        self.socket_path = socket_path
        self.db_path = db_path
        self.db_identity = _identity(db_path)
        self.code = _code_stamp()
        self.warnings = warnings
        self.server: IdleServer | None = None
        self.socket_identity: tuple[int, int] | None = None
        import threading

        self.token_lock = threading.Lock()
        self.issued: str | None = None  # the token this server made: concurrent first uses share one identity

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(CONTROL_PREFIX):
            return await self.control(scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        collected: list[str] = []
        token = _request_warnings.set(collected)

        async def relay(message):
            if message["type"] == "http.response.start" and collected:
                headers = list(message.get("headers", []))
                headers += [(WARNING_HEADER.encode(), _header_value(w)) for w in collected]
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, receive, relay)
        finally:
            _request_warnings.reset(token)

    # -- control ---------------------------------------------------------------------

    async def control(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path, method = scope["path"], scope["method"]
        if method != "POST" or path not in ("/_sandbox/open", "/_sandbox/stop"):
            return await _answer(send, 404, {"error": "not_found"})
        if path == "/_sandbox/stop":
            self.leave()
            return await _answer(send, 200, {"pid": os.getpid()}, close=True)
        stale = self.stale()
        if stale:
            log.info("sandbox server %d: %s; leaving for a new one", os.getpid(), stale)
            self.leave()
            return await _answer(send, 410, {"stale": stale}, close=True)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return await _answer(send, 400, {"error": "not JSON"})
        import anyio

        try:
            answer = await anyio.to_thread.run_sync(self.session_token, request.get("token"),
                                                    bool(request.get("keep")))
        except Exception as exc:  # busy database, ...: the command runs in-process and says what it is
            log.info("sandbox server %d: no token: %s", os.getpid(), exc, exc_info=exc)
            return await _answer(send, 503, {"error": f"{type(exc).__name__}"})
        return await _answer(send, 200, dict(answer, pid=os.getpid(), warnings=self.warnings.at_start))

    def session_token(self, candidate: str | None, keep: bool) -> dict[str, Any]:
        """The token a command uses: its own if this sandbox knows it (or it came from the
        environment: the backend then says whether it is valid), else a new administrator's."""
        from sqlalchemy import select

        from egactl.sandbox import SANDBOX_SUBJECT
        from egactl.server.models import ApiToken
        from egactl.server.security import hash_token, issue_token

        be = self.backend

        def known(token: str) -> bool:
            with be.read_sessions() as session:
                return bool(session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))))

        if candidate and (keep or known(candidate)):
            return {"token": candidate, "issued": False}
        with self.token_lock:
            if self.issued is None or not known(self.issued):
                with be.write_sessions() as session:
                    self.issued, _ = issue_token(session, subject=SANDBOX_SUBJECT, role="admin", now=be.now())
                    session.commit()
            return {"token": self.issued, "issued": True}

    def stale(self) -> str | None:
        """Why this server must not serve another command, if it must not."""
        if _identity(self.db_path) != self.db_identity:
            return f"its database {self.db_path} was removed or replaced"
        if _code_stamp() != self.code:
            return "egactl's code changed on disk"
        return None

    def leave(self) -> None:
        """Take the socket away now (a new command starts a new server), exit once the open connections end."""
        self.unlink_socket()
        if self.server is not None:
            self.server.draining_since = self.server.draining_since or time.monotonic()

    def unlink_socket(self) -> None:
        # Only our own socket: after a stale start another server may own the path.
        if self.socket_identity is not None and _identity(self.socket_path) == self.socket_identity:
            try:
                os.unlink(self.socket_path)
            except FileNotFoundError:
                pass


def _header_value(text: str) -> bytes:
    return " ".join(text.split()).encode("utf-8", "replace")[:1000]


async def _answer(send, status: int, payload: dict, close: bool = False) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # this server is leaving: the command's next request must not reuse the connection
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn, exiting when idle, asked to, or its database is gone."""

        def __init__(self, config, sandbox: Sandbox, idle: float):
            super().__init__(config)
            self.sandbox, self.idle = sandbox, idle
            self.draining_since: float | None = None
            self._seen, self._last = 0, time.monotonic()

        async def on_tick(self, counter: int) -> bool:
            if await super().on_tick(counter):
                return True
            now = time.monotonic()
            state = self.server_state
            if state.connections or state.total_requests != self._seen:
                self._seen, self._last = state.total_requests, now
                return False
            if self.draining_since is None:
                gone = counter % 10 == 0 and _identity(self.sandbox.db_path) != self.sandbox.db_identity
                if gone or now - self._last >= self.idle:
                    log.info("sandbox server %d: %s; exiting", os.getpid(),
                             "its database is gone" if gone else f"idle for {self.idle:g} s")
                    self.sandbox.leave()
                return False
            return now - self.draining_since >= DRAIN

    return Server


IdleServer = Any  # the class above, built when uvicorn is imported


def _bind(path: Path) -> tuple[socket.socket, tuple[int, int] | None]:
    if path.exists() or path.is_symlink():
        path.unlink()  # a stale socket: the starting command holds the lock and found nothing listening
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    os.chdir(path.parent)
    sock.bind(path.name)  # relative: a deep data directory's path may be too long for a socket address
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock, _identity(path)


def serve(socket_path: Path) -> int:
    os.umask(0o077)
    from egactl import paths
    from egactl.sandbox import database_path, route_server_log

    run_dir = socket_path.parent
    paths.private_dir(run_dir)
    os.chmod(run_dir, 0o700)
    warnings = Warnings()
    route_server_log(warnings, "egactl")  # the plugins' workers too ("egactl.sms.delivery")
    db_path = database_path()
    paths.private_dir(db_path.parent)
    from egactl.server.app import create_app

    try:
        app = create_app(f"sqlite:///{db_path}", sandbox=True)
    except Exception as exc:  # the command that started us runs in-process and reports it itself
        log.info("sandbox server %d could not start: %s", os.getpid(), exc, exc_info=exc)
        return 1
    warnings.started = True
    sandbox = Sandbox(app, socket_path, db_path, warnings)
    import uvicorn

    config = uvicorn.Config(sandbox, log_config=None, access_log=False, lifespan="on", log_level="warning",
                            timeout_graceful_shutdown=30)
    server = _server_class()(config, sandbox, idle_seconds() or DEFAULT_IDLE)
    sandbox.server = server
    sock, sandbox.socket_identity = _bind(socket_path)
    pid_file = socket_path.with_suffix(".pid")
    paths.write_private(pid_file, str(os.getpid()).encode())
    log.info("sandbox server %d listening on %s", os.getpid(), socket_path)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sandbox.unlink_socket()
        try:
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()
        except OSError:
            pass
        log.info("sandbox server %d stopped", os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1])))
