"""Loopback stand-ins for systems' sites, for the tests and ``bench/dr_check.py``.

Real sockets, real TLS, on 127.0.0.1 — what the probes meet in the field, on
demand: a health endpoint (HTTP or HTTPS with any certificate you hand it), a
port that refuses, and one that accepts connections and never says a word.
Everything runs on one event loop in a background thread, so a test or the
benchmark drives ``egactl dr check`` from its own thread as a user would.

Nothing here is used by the plugin: it is test equipment, the far side of
``dr check``'s probes (imported as ``fakesites`` by the tests in this folder
and by ``bench/dr_check.py``). Its health bodies tell the time of the outside
world (the real clock), as the systems it stands in for do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import ssl
import threading
from typing import Any, Callable

Body = dict[str, Any] | Callable[[], dict[str, Any]]


def health(version: str = "1.0.0", *, replicated_ago: dt.timedelta | None = None,
           backup_ago: dt.timedelta | None = None) -> Callable[[], dict[str, Any]]:
    """A health body with times computed at each request (so "5 minutes ago" stays true)."""

    def body() -> dict[str, Any]:
        now = dt.datetime.now(dt.timezone.utc)
        data: dict[str, Any] = {"status": "UP", "version": version}
        if replicated_ago is not None:
            data["replication"] = {"last_replicated_at": (now - replicated_ago).isoformat()}
        if backup_ago is not None:
            data["backup"] = {"last_success": (now - backup_ago).isoformat()}
        return data

    return body


class FakeSites:
    """Start sites with :meth:`http`, :meth:`hanging`, :meth:`refused`; :meth:`close` stops them all."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(lambda loop, context: None)  # clients aborting handshakes is the point
        self._thread = threading.Thread(target=self._loop.run_forever, name="egactl-dr-fakesites", daemon=True)
        self._thread.start()
        self._servers: list[asyncio.base_events.Server] = []
        self._held: list[Any] = []
        self.requests = 0

    def __enter__(self) -> "FakeSites":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def http(self, body: Body | None = None, *, status: int = 200, headers: dict[str, str] | None = None,
             tls: ssl.SSLContext | None = None, path: str = "/health", host: str = "127.0.0.1",
             raw_response: bytes | None = None) -> str:
        """A health endpoint; returns its URL (https when ``tls`` is a server context).
        ``raw_response`` is sent as it is, for answers a well-behaved server would not give."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
                writer.close()
                return
            self.requests += 1
            if raw_response is not None:
                writer.write(raw_response)
                writer.close()
                return
            data = body() if callable(body) else (body if body is not None else {"status": "UP"})
            payload = json.dumps(data).encode()
            head = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}", "Content-Type: application/json",
                    f"Content-Length: {len(payload)}", "Connection: close"]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            try:
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
                await writer.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            writer.close()

        async def start():
            server = await asyncio.start_server(handle, host, 0, ssl=tls)
            self._servers.append(server)
            return server.sockets[0].getsockname()[1]

        port = self._call(start())
        return f"{'https' if tls else 'http'}://{host}:{port}{path}"

    def hanging(self, host: str = "127.0.0.1") -> int:
        """A port that accepts connections and never answers (nor reads, nor closes)."""

        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._held.append(writer)  # keep it referenced: a collected writer would close the socket

        async def start():
            server = await asyncio.start_server(hold, host, 0)
            self._servers.append(server)
            return server.sockets[0].getsockname()[1]

        return self._call(start())

    @staticmethod
    def refused(host: str = "127.0.0.1") -> int:
        """A port with nothing listening: connecting is refused at once."""
        with socket.socket() as s:
            s.bind((host, 0))
            return s.getsockname()[1]

    def close(self) -> None:
        async def stop():
            for writer in self._held:
                writer.transport.abort()
            for server in self._servers:
                server.close()

        if self._loop.is_running():
            try:
                self._call(stop())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=5)
        self._loop.close()
