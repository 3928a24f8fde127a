"""Network probes: what one site looks like from where `egactl dr check` runs.

Each probe is a coroutine with its own timeout and returns an observation —
raw facts, no verdicts (those are ``verdicts``, pure functions). A site's DNS
lookup and its connection start together, and one connection serves the TLS
check and the HTTP GET, so a site that accepts connections and
never answers costs its timeout once, not once per probe.

TLS is checked with verification on (the system store, plus the system's own
CA bundle and the run's ``--ca-bundle``). When verification fails, a second
handshake without verification fetches the chain — only to say *what* is wrong
with it (expired how long ago, which names it carries); nothing read over that
connection is trusted. The HTTP GET never runs without verification: a site whose
certificate fails is reported as such, and its health fields are not read.

The GET is plain HTTP/1.1 on asyncio streams (``Connection: close``, no
redirects followed, no proxies): a health endpoint needs no more, and a
client library's connection pool would cost a second handshake per site.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from egactl.plugin.cli import certificates
from egactl_dr.rules import Endpoint

MAX_BODY = 1 << 20  # a health response larger than 1 MiB is cut; the fields we read come first


@dataclass
class Failure:
    """Why a probe got no answer. ``kind``: timeout, refused, dns, tls-verify, tls, network."""

    kind: str
    message: str


@dataclass
class DnsObservation:
    host: str
    addresses: list[str] = field(default_factory=list)
    literal: bool = False
    elapsed: float = 0.0
    failure: Failure | None = None
    served_by: str | None = None  # a host no DNS knows, served by the backend (the sandbox's sites)


class Network:
    """How the probes reach a host other than by DNS and a socket: ``takes(host)``
    says which hosts it serves; ``resolve`` and ``open_connection`` stand in for the
    lookup and ``asyncio.open_connection`` (same arguments, same streams). Every other
    host goes over the real network. See ``commands/check/sandbox.py``."""

    def takes(self, host: str) -> bool:
        return False

    async def resolve(self, host: str, timeout: float) -> DnsObservation:
        raise NotImplementedError

    async def open_connection(self, host: str, port: int, **kwargs: Any):
        raise NotImplementedError

    async def close(self) -> None:
        """At the end of the run: stop whatever it still serves."""


NETWORK: contextvars.ContextVar[Network | None] = contextvars.ContextVar("egactl_dr_network", default=None)
"""The run's ``Network`` for hosts the real network does not reach (set by the runner)."""


def _network_for(host: str) -> Network | None:
    network = NETWORK.get()
    return network if network is not None and network.takes(host) else None


async def _open_connection(host: str, port: int, **kwargs: Any):
    network = _network_for(host)
    if network is not None:
        return await network.open_connection(host, port, **kwargs)
    return await asyncio.open_connection(host, port, **kwargs)


@dataclass
class ReachObservation:
    """An HTTP GET (status, headers, body), a bare TLS handshake or a bare TCP connect."""

    kind: str  # "http", "tls" (a handshake only) or "tcp" (a connect only)
    elapsed: float = 0.0
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    failure: Failure | None = None


@dataclass
class TlsObservation:
    elapsed: float = 0.0
    verified: bool = False
    verify_code: int | None = None
    verify_message: str | None = None
    chain: list[certificates.CertInfo] = field(default_factory=list)  # leaf first
    failure: Failure | None = None

    def seen(self) -> certificates.Chain:
        """The chain as the SDK judges it (``certificates.judge``)."""
        return certificates.Chain(self.verified, self.chain, self.verify_code, self.verify_message)


@dataclass
class SiteObservation:
    """Everything seen of one endpoint. Fields stay None for probes that did not finish."""

    endpoint: Endpoint
    dns: DnsObservation | None = None
    reach: ReachObservation | None = None
    tls: TlsObservation | None = None


# -- the probes ------------------------------------------------------------------------


async def probe_dns(host: str, timeout: float) -> DnsObservation:
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return DnsObservation(host, [host], literal=True)
    except ValueError:
        pass
    if (network := _network_for(host)) is not None:
        return await network.resolve(host, timeout)
    started = time.monotonic()
    obs = DnsObservation(host)
    limit = asyncio.timeout(timeout)
    try:
        async with limit:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        obs.addresses = list(dict.fromkeys(info[4][0] for info in infos))
    except Exception as exc:  # noqa: BLE001
        _reraise_outside_cancel()
        if limit.expired() or isinstance(exc, TimeoutError):
            obs.failure = Failure("timeout", f"no DNS answer within {timeout:g} s")
        elif isinstance(exc, socket.gaierror):
            obs.failure = Failure("dns", f"{host} does not resolve ({exc.strerror or exc})")
        else:
            obs.failure = Failure("network", f"DNS lookup failed ({exc})")
    obs.elapsed = time.monotonic() - started
    return obs


async def probe_tcp(host: str, port: int, timeout: float) -> ReachObservation:
    started = time.monotonic()
    obs = ReachObservation("tcp")
    limit = asyncio.timeout(timeout)
    try:
        async with limit:
            _, writer = await _open_connection(host, port)
        obs.elapsed = time.monotonic() - started
        writer.transport.abort()
    except Exception as exc:  # noqa: BLE001 - every failure is an observation
        _reraise_outside_cancel()
        obs.failure = classify(exc, timeout, limit.expired())
        obs.elapsed = time.monotonic() - started
    return obs


async def probe_connection(endpoint: Endpoint, timeout: float, context: ssl.SSLContext | None,
                           into: SiteObservation) -> None:
    """Connect once and learn all a connection can tell: for https the verified
    handshake (TLS) and then a GET over that same connection (reachability and
    the health response); for tls:// the handshake alone; for http:// the GET.

    One handshake per site, not one for TLS and another for HTTP: checking a whole
    estate at once is CPU-bound on handshakes, and a starved CPU makes healthy
    sites miss their timeouts.
    """
    obs = into
    started = time.monotonic()
    limit = asyncio.timeout(timeout)
    writer = None
    try:
        async with limit:
            if endpoint.uses_tls:
                assert context is not None
                try:
                    reader, writer = await _open_connection(endpoint.host, endpoint.port, ssl=context,
                                                            server_hostname=endpoint.host)
                except ssl.SSLCertVerificationError as exc:
                    obs.tls = TlsObservation(time.monotonic() - started, False, exc.verify_code,
                                             exc.verify_message or exc.reason)
                    obs.reach = ReachObservation("http" if endpoint.is_http else "tls", obs.tls.elapsed, failure=Failure(
                        "tls-verify", f"certificate verification failed: {obs.tls.verify_message}"))
                    # Look again, unverified, only to describe the certificate; nothing else is read.
                    _, writer = await _open_connection(endpoint.host, endpoint.port,
                                                       ssl=certificates.describe_only_context(),
                                                       server_hostname=endpoint.host)
                    obs.tls.chain = certificates.chain_of(writer.get_extra_info("ssl_object"), verified=False)
                    return
                obs.tls = TlsObservation(time.monotonic() - started, True,
                                         chain=certificates.chain_of(writer.get_extra_info("ssl_object"), verified=True))
                if not endpoint.is_http:
                    obs.reach = ReachObservation("tls", obs.tls.elapsed)
                    return
            else:
                reader, writer = await _open_connection(endpoint.host, endpoint.port)
            await _http_get(reader, writer, endpoint, obs, started)
    except Exception as exc:  # noqa: BLE001 - every failure is an observation
        _reraise_outside_cancel()
        failure = classify(exc, timeout, limit.expired())
        if failure.kind == "tls" and obs.tls is not None:
            failure = Failure("network", failure.message.replace("TLS handshake failed", "TLS error after the handshake"))
        if obs.reach is not None and obs.reach.status is not None:
            pass  # the status and headers came in time; only the body did not: keep what arrived
        elif obs.reach is None or obs.reach.failure is None:
            obs.reach = ReachObservation("http" if endpoint.is_http else "tls", time.monotonic() - started,
                                         failure=failure)
        if endpoint.uses_tls and obs.tls is None:
            obs.tls = TlsObservation(time.monotonic() - started, failure=failure)
    finally:
        if writer is not None:
            writer.transport.abort()


async def _http_get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, endpoint: Endpoint,
                    site: SiteObservation, started: float) -> None:
    """One HTTP/1.1 GET, ``Connection: close``, no redirects followed; status, headers, up to 1 MiB of body.
    ``site.reach`` is set once the status line and headers are in, and not before."""
    from egactl.plugin.cli import EGACTL_VERSION

    parts = urlsplit(endpoint.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    default_port = 443 if endpoint.scheme == "https" else 80
    host_header = host if endpoint.port == default_port else f"{host}:{endpoint.port}"
    writer.write((f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: egactl-dr/{EGACTL_VERSION}\r\n"
                  "Accept: application/json, */*;q=0.5\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n")
                 .encode("ascii"))
    await writer.drain()
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("iso-8859-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/") or not rest[:3].isdigit():
            raise ProtocolError(f"not an HTTP response ({lines[0][:60]!r})")
        status = int(rest[:3])
        if not 100 <= status < 200:
            break  # 1xx are interim; the real answer follows
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    obs = site.reach = ReachObservation("http", time.monotonic() - started, status, headers)
    obs.body = await _read_body(reader, headers)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    body = bytearray()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while len(body) < MAX_BODY:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    elif headers.get("content-length", "").strip().isdigit():
        body += await reader.readexactly(min(int(headers["content-length"]), MAX_BODY))
    else:
        while len(body) < MAX_BODY:
            chunk = await reader.read(65536)
            if not chunk:
                break
            body += chunk
    return bytes(body[:MAX_BODY])


async def probe_url(url: str, timeout: float, context: ssl.SSLContext | None) -> ReachObservation:
    """A GET of another URL of the system (a backup status endpoint); its TLS is verified but not reported."""
    from egactl_dr.rules import parse_endpoint

    endpoint = parse_endpoint(url)
    obs = SiteObservation(endpoint)
    await probe_connection(endpoint, timeout, context, obs)
    assert obs.reach is not None
    return obs.reach


async def probe_site(endpoint: Endpoint, *, timeout: float, context: ssl.SSLContext | None,
                     into: SiteObservation | None = None) -> SiteObservation:
    """DNS and the connection at once, each within ``timeout``. Results land in ``into``
    as they come, so a run cut short by its deadline keeps what was learnt."""
    obs = into or SiteObservation(endpoint)

    async def dns() -> None:
        obs.dns = await probe_dns(endpoint.host, timeout)

    async def connect() -> None:
        if endpoint.is_http or endpoint.uses_tls:
            await probe_connection(endpoint, timeout, context, obs)
        else:
            obs.reach = await probe_tcp(endpoint.host, endpoint.port, timeout)

    await asyncio.gather(dns(), connect())
    return obs


class ProtocolError(Exception):
    """The peer answered, but not in HTTP."""


# -- helpers -------------------------------------------------------------------------


def ssl_context(*bundles: str | None) -> ssl.SSLContext:
    """Verification on: the system's trust store, plus the given private CA bundles (PEM text)."""
    return certificates.trusting(ca_pem=bundles)


def _reraise_outside_cancel() -> None:
    """The run's deadline cancelled this probe, but a library turned the cancellation
    into its own error (anyio inside a TLS handshake does): keep it a cancellation, so
    the check says "not finished within the deadline" rather than inventing a failure."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_timeout(exc: BaseException) -> bool:
    return any(isinstance(e, TimeoutError) for e in _causes(exc))


def classify(exc: Exception, timeout: float, expired: bool = False) -> Failure:
    """Turn whatever a probe raised into a Failure (cancellation is never caught: it propagates).

    ``expired``: the probe's own timeout fired. What surfaces then depends on where
    the cancellation landed (a TimeoutError, or e.g. an SSL "operation did not
    complete" from inside a handshake), so the timer, not the exception, decides.
    """
    if expired:
        return Failure("timeout", f"no answer within {timeout:g} s")
    if isinstance(exc, ProtocolError):
        return Failure("protocol", str(exc))
    if isinstance(exc, asyncio.IncompleteReadError):
        return Failure("protocol", "the server closed the connection before a complete answer")
    if isinstance(exc, (asyncio.LimitOverrunError, ValueError)):
        return Failure("protocol", "the answer is not well-formed HTTP")
    for e in _causes(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return Failure("tls-verify", f"certificate verification failed: {e.verify_message or e.reason}")
        if isinstance(e, ConnectionRefusedError):
            return Failure("refused", "connection refused")
        if isinstance(e, socket.gaierror):
            return Failure("dns", f"host name does not resolve ({e.strerror or e})")
        if isinstance(e, ssl.SSLError):
            return Failure("tls", f"TLS handshake failed: {e.reason or e}")
    if _is_timeout(exc):
        return Failure("timeout", f"no answer within {timeout:g} s")
    text = str(exc).strip() or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return Failure("tls-verify", f"certificate verification failed: {text}")
    for e in _causes(exc):
        if isinstance(e, ConnectionResetError):
            return Failure("network", "connection reset by the server")
    return Failure("network", text.splitlines()[0][:300])
