"""Reaching the sandbox's DR sites: ``.example`` hosts, served by the backend in this process.

The seeded systems' endpoints are under the reserved ``.example`` domain, which
no DNS resolves (``egactl_dr.sandbox_sites``). For such a host the probes ask
the backend ``dr check`` talks to instead of the network, through the same API
client (in the sandbox: the in-process backend over httpx's ASGI transport):

- the name lookup is ``GET /api/v1/dr/sandbox/sites/{host}``: 200 is "served
  by the sandbox", 404 (any backend but the sandbox) "does not resolve";
- a connection is a socket pair in this process: the probe's end gets the
  same streams as a TCP connection, TLS handshake included (the sandbox sites'
  certificate, from their private CA, which the seeded systems keep as their CA
  bundle), and the other end relays each HTTP request to ``GET …/sites/{host}/answer``
  and writes the site's answer back as HTTP/1.1.

So the check runs unchanged (DNS, TLS verification, the GET, the health fields)
and nothing is sent to any network. Every other host goes over the real network.
"""

from __future__ import annotations

import asyncio
import functools
import http
import os
import socket
import ssl
import tempfile
import time
from typing import Any
from urllib.parse import quote

from egactl.plugin.cli import EgactlError
from egactl_dr import sandbox_sites
from egactl_dr.commands.check.probes import DnsObservation, Failure, Network

BASE = "/api/v1/dr/sandbox/sites"
SERVED_BY = "the sandbox, in this process"
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "content-encoding"}


class BackendSites(Network):
    """The ``.example`` hosts, reached through the backend's sandbox sites."""

    def __init__(self, api: Any):
        self.api = api
        self._served: dict[str, asyncio.Future] = {}
        self._server_context: ssl.SSLContext | None = None
        self._tasks: set[asyncio.Task] = set()

    def takes(self, host: str) -> bool:
        return sandbox_sites.is_sandbox_host(host)

    async def _get(self, path: str, **params: Any):
        call = functools.partial(self.api.request, "GET", path, params=params or None, raise_for_status=False)
        try:
            return await asyncio.get_running_loop().run_in_executor(None, call)
        except EgactlError as exc:  # the backend itself is unreachable, or refuses the token
            raise ConnectionError(f"cannot reach the backend that serves {DOMAIN_NOTE}: {exc.message}") from None

    async def _is_served(self, host: str) -> bool:
        """Asked once per host and run, however many probes ask at the same time (a site's
        lookup and its connection start together)."""
        key = host.lower().rstrip(".")
        if key not in self._served:
            self._served[key] = asyncio.ensure_future(self._lookup(key))
        return await asyncio.shield(self._served[key])

    async def _lookup(self, host: str) -> bool:
        return (await self._get(f"{BASE}/{quote(host, safe='')}")).status_code == 200

    async def resolve(self, host: str, timeout: float) -> DnsObservation:
        started = time.monotonic()
        obs = DnsObservation(host)
        limit = asyncio.timeout(timeout)
        try:
            async with limit:
                served = await self._is_served(host)
            if served:
                obs.served_by = SERVED_BY
            else:
                obs.failure = Failure("dns", f"{host} does not resolve (a reserved {sandbox_sites.DOMAIN} name; "
                                             "only the sandbox serves such sites, and not this one)")
        except Exception as exc:  # noqa: BLE001 - every failure is an observation
            obs.failure = (Failure("timeout", f"no answer within {timeout:g} s") if limit.expired()
                           else Failure("network", str(exc)))
        obs.elapsed = time.monotonic() - started
        return obs

    async def open_connection(self, host: str, port: int, *, ssl: ssl.SSLContext | None = None,
                              server_hostname: str | None = None, **kwargs: Any):
        if not await self._is_served(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        ours, theirs = socket.socketpair()
        task = asyncio.ensure_future(self._serve(theirs, host, tls=ssl is not None))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            return await asyncio.open_connection(sock=ours, ssl=ssl, server_hostname=server_hostname, **kwargs)
        except BaseException:
            ours.close()
            raise

    async def close(self) -> None:
        pending = list(self._tasks) + [f for f in self._served.values() if not f.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for lookup in self._served.values():  # retrieved, so none is reported as never retrieved
            if lookup.done() and not lookup.cancelled():
                lookup.exception()

    # -- the site's end of the connection ---------------------------------------------

    def _context(self) -> ssl.SSLContext:
        if self._server_context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            # load_cert_chain reads only files: a private temporary one, removed at once.
            fd, path = tempfile.mkstemp(prefix="egactl-dr-sandbox-", suffix=".pem")
            try:
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(sandbox_sites.CERT_PEM + sandbox_sites.KEY_PEM)
                context.load_cert_chain(path)
            finally:
                os.unlink(path)
            self._server_context = context
        return self._server_context

    async def _serve(self, sock: socket.socket, host: str, *, tls: bool) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        writer = None
        try:
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock=sock,
                                                              ssl=self._context() if tls else None)
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("iso-8859-1").split(" ")
            if method != "GET":
                status, headers, body = 405, {"allow": "GET"}, b""
            else:
                response = await self._get(f"{BASE}/{quote(host, safe='')}/answer", target=target)
                status, body = response.status_code, response.content
                headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
            reason = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else ""
            lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items()),
                     f"content-length: {len(body)}", "connection: close"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + body)
            await writer.drain()
        except (OSError, EOFError, ValueError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the probe only connected, or gave up: as a server would, drop the connection
        finally:
            if writer is not None:
                writer.close()
            else:
                sock.close()


DOMAIN_NOTE = f"the {sandbox_sites.DOMAIN} sandbox sites"
