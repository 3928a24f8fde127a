"""Network probes: what one site looks like from where `egactl dr check` runs.

Each probe is a coroutine with its own timeout and returns an observation —
raw facts, no verdicts (those are ``egactl_dr.verdicts``, pure functions). A
site's probes (DNS, reachability, TLS) start together, so a site that accepts
connections and never answers costs its timeout once, not once per probe.

TLS is checked with verification on (the system store, plus the system's own
CA bundle and the run's ``--ca-bundle``). When verification fails, a second
handshake without verification fetches the chain — only to say *what* is wrong
with it (expired how long ago, which names it carries); nothing read over that
connection is trusted. The HTTP probe never disables verification: a site whose
certificate fails is reported as such, and its health fields are not read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from egactl_dr.validation import Endpoint

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


@dataclass
class ReachObservation:
    """An HTTP GET (status, headers, body) or a bare TCP connect."""

    kind: str  # "http" or "tcp"
    elapsed: float = 0.0
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    failure: Failure | None = None


@dataclass
class CertInfo:
    subject: str
    not_before: dt.datetime | None
    not_after: dt.datetime
    names: list[str] = field(default_factory=list)


@dataclass
class TlsObservation:
    elapsed: float = 0.0
    verified: bool = False
    verify_code: int | None = None
    verify_message: str | None = None
    chain: list[CertInfo] = field(default_factory=list)  # leaf first
    failure: Failure | None = None

    @property
    def earliest(self) -> CertInfo | None:
        return min(self.chain, key=lambda c: c.not_after) if self.chain else None


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
            _, writer = await asyncio.open_connection(host, port)
        obs.elapsed = time.monotonic() - started
        writer.transport.abort()
    except Exception as exc:  # noqa: BLE001 - every failure is an observation
        _reraise_outside_cancel()
        obs.failure = classify(exc, timeout, limit.expired())
        obs.elapsed = time.monotonic() - started
    return obs


async def probe_http(client: Any, url: str, timeout: float) -> ReachObservation:
    """GET ``url`` through a shared ``httpx.AsyncClient``; headers and up to 1 MiB of body."""
    started = time.monotonic()
    obs = ReachObservation("http")
    limit = asyncio.timeout(timeout)
    try:
        async with limit:
            async with client.stream("GET", url) as response:
                obs.elapsed = time.monotonic() - started
                obs.status = response.status_code
                obs.headers = {k.lower(): v for k, v in response.headers.items()}
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY:
                        break
                obs.body = bytes(body[:MAX_BODY])
    except Exception as exc:  # noqa: BLE001
        _reraise_outside_cancel()
        expired = limit.expired() or _is_timeout(exc)
        if obs.status is not None and expired:
            # The status and headers came in time; only the body was slow. Keep what arrived.
            return obs
        obs.failure = classify(exc, timeout, expired)
        obs.elapsed = time.monotonic() - started
    return obs


async def probe_tls(host: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> TlsObservation:
    started = time.monotonic()
    obs = TlsObservation()
    limit = asyncio.timeout(timeout)
    try:
        async with limit:
            try:
                _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=server_name)
            except ssl.SSLCertVerificationError as exc:
                obs.verify_code, obs.verify_message = exc.verify_code, exc.verify_message or exc.reason
            else:
                obs.verified = True
                obs.chain = _chain(writer.get_extra_info("ssl_object"), verified=True)
                writer.transport.abort()
                obs.elapsed = time.monotonic() - started
                return obs
            # Verification failed: look again, unverified, only to describe the certificate.
            _, writer = await asyncio.open_connection(host, port, ssl=_describe_only_context(),
                                                      server_hostname=server_name)
            obs.chain = _chain(writer.get_extra_info("ssl_object"), verified=False)
            writer.transport.abort()
    except Exception as exc:  # noqa: BLE001
        _reraise_outside_cancel()
        if obs.verify_code is None:
            obs.failure = classify(exc, timeout, limit.expired())
        # else: we know why verification failed; only the description is missing.
    obs.elapsed = time.monotonic() - started
    return obs


async def probe_site(endpoint: Endpoint, *, timeout: float, context: ssl.SSLContext | None, http: Any,
                     into: SiteObservation | None = None) -> SiteObservation:
    """All of one site's probes at once. Results land in ``into`` as they finish, so a
    run cut short by its deadline still keeps what was learnt."""
    obs = into or SiteObservation(endpoint)

    async def dns() -> None:
        obs.dns = await probe_dns(endpoint.host, timeout)

    async def reach() -> None:
        if endpoint.is_http:
            obs.reach = await probe_http(http, endpoint.url, timeout)
        else:
            obs.reach = await probe_tcp(endpoint.host, endpoint.port, timeout)

    async def tls() -> None:
        assert context is not None
        obs.tls = await probe_tls(endpoint.host, endpoint.port, endpoint.host, context, timeout)

    jobs = [dns(), reach()] + ([tls()] if endpoint.uses_tls else [])
    await asyncio.gather(*jobs)
    return obs


# -- helpers -------------------------------------------------------------------------


def ssl_context(*, cafile: str | None = None, cadata: str | None = None) -> ssl.SSLContext:
    """Verification on: the system's trust store, plus the given private CA(s)."""
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    if cadata:
        context.load_verify_locations(cadata=cadata)
    return context


def _describe_only_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _chain(ssl_object: Any, *, verified: bool) -> list[CertInfo]:
    """The certificate chain, leaf first. Python 3.10+ has it on the private
    ``_sslobj`` (public only from 3.13, and there as DER); without it, the leaf."""
    inner = getattr(ssl_object, "_sslobj", None)
    getter = getattr(inner, "get_verified_chain" if verified else "get_unverified_chain", None)
    infos: list[dict] = []
    if getter is not None:
        try:
            infos = [cert.get_info() for cert in getter() or []]
        except Exception:  # noqa: BLE001 - fall back to the leaf
            infos = []
    if not infos and verified:
        leaf = ssl_object.getpeercert()
        infos = [leaf] if leaf else []
    return [info for info in (_cert_info(i) for i in infos) if info is not None]


def _cert_info(info: dict) -> CertInfo | None:
    try:
        not_after = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(info["notAfter"]), dt.timezone.utc)
    except (KeyError, ValueError):
        return None
    not_before = None
    if "notBefore" in info:
        try:
            not_before = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(info["notBefore"]), dt.timezone.utc)
        except ValueError:
            pass
    subject = dict(part[0] for part in info.get("subject", ()) if part)
    label = subject.get("commonName") or subject.get("organizationalUnitName") or subject.get("organizationName") or "?"
    names = [value for _, value in info.get("subjectAltName", ())]
    return CertInfo(label, not_before, not_after, names)


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
    import httpx

    return any(isinstance(e, (TimeoutError, httpx.TimeoutException)) for e in _causes(exc))


def classify(exc: Exception, timeout: float, expired: bool = False) -> Failure:
    """Turn whatever a probe raised into a Failure (cancellation is never caught: it propagates).

    ``expired``: the probe's own timeout fired. What surfaces then depends on where
    the cancellation landed (a TimeoutError, or e.g. an SSL "operation did not
    complete" from inside a handshake), so the timer, not the exception, decides.
    """
    if expired:
        return Failure("timeout", f"no answer within {timeout:g} s")
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
