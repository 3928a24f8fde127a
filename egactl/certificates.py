"""A TLS server's certificate chain: how it is read, and how its expiry is judged.

The one reading for every command that looks at a server's certificates
(``dr check``'s TLS probe of a site, ``esb check``'s ``tls`` row for the bus), so
that they agree on what a chain holds, when it runs out and how a verification
that failed is told. Plugins reach it through ``egactl.plugin.cli.certificates``.

- :func:`read` opens one verified connection and reads the chain; when the
  verification fails it looks again, unverified, only to describe the
  certificates (nothing else is read from that connection).
- :func:`chain_of` reads the chain of a connection already open (an asyncio
  stream's ``ssl_object``, for a caller with its own connections).
- :func:`judge` gives OK, WARNING or CRITICAL with the line to show: the
  earliest expiry in the chain against two thresholds in days, or why the chain
  does not verify (expired, not yet valid, for another host, no trusted issuer).

Import-light: ``ssl`` is imported by the functions that need it, not here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from egactl.times import for_people

__all__ = ["CertInfo", "Chain", "Verdict", "chain_of", "describe_only_context", "judge", "read", "trusting"]


@dataclass
class CertInfo:
    """One certificate of a chain: who it is for, and when it is valid."""

    subject: str
    not_before: dt.datetime | None
    not_after: dt.datetime
    names: list[str] = field(default_factory=list)


@dataclass
class Chain:
    """What a handshake showed of a server's chain (leaf first), and whether it verified."""

    verified: bool
    certificates: list[CertInfo] = field(default_factory=list)
    verify_code: int | None = None  # OpenSSL's X509_V_ERR_* when the verification failed
    verify_message: str | None = None

    @property
    def earliest(self) -> CertInfo | None:
        """The certificate that expires first: the chain is good only until then."""
        return min(self.certificates, key=lambda c: c.not_after) if self.certificates else None


class Verdict(NamedTuple):
    state: str  # "OK", "WARNING" or "CRITICAL"
    text: str
    days: float | None  # days to the earliest expiry (negative once past), None without a certificate to read


def trusting(ca_file: str | None = None, ca_pem: tuple[str | None, ...] = ()) -> Any:
    """An ``ssl.SSLContext`` that verifies: the system's trust store, or ``ca_file`` instead of it
    (a profile's ``ca_bundle``: the API client's context is made here too), plus any private CAs
    given as PEM text. A ``ca_file`` that cannot be loaded is ``InvalidInput`` (exit 2) naming it."""
    import ssl

    if ca_file:
        try:
            context = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            from egactl.errors import InvalidInput

            raise InvalidInput(f"cannot load CA bundle {ca_file}: {exc}", hint="fix ca_bundle in the profile") from None
    else:
        context = ssl.create_default_context()
    for pem in ca_pem:
        if pem:
            context.load_verify_locations(cadata=pem)
    return context


def describe_only_context() -> Any:
    """An ``ssl.SSLContext`` that verifies nothing: only to describe a chain that did not verify."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def read(host: str, port: int, *, context: Any, timeout: float) -> Chain:
    """The chain ``host:port`` shows, verified with ``context`` (see :func:`trusting`).

    A chain that does not verify is still described (verified False, with OpenSSL's
    code and message). Anything else (refused, timed out, a handshake that fails for
    another reason) raises ``OSError`` (``ssl.SSLError`` is one) for the caller to tell.
    """
    import socket
    import ssl

    def handshake(ctx: Any, verified: bool) -> list[CertInfo]:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                return chain_of(tls, verified=verified)

    try:
        return Chain(True, handshake(context, True))
    except ssl.SSLCertVerificationError as exc:
        failed = Chain(False, [], exc.verify_code, exc.verify_message or exc.reason)
    failed.certificates = handshake(describe_only_context(), False)
    return failed


def chain_of(ssl_object: Any, *, verified: bool) -> list[CertInfo]:
    """The certificate chain of an open TLS connection, leaf first.

    Python 3.10+ has it on the private ``_sslobj`` (public only from 3.13, and there
    as DER); without it, the leaf alone (which ``getpeercert`` gives only when verified).
    """
    inner = getattr(ssl_object, "_sslobj", ssl_object)
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
    import ssl

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


def judge(chain: Chain, host: str, *, now: dt.datetime, warn_days: float, crit_days: float,
          untrusted_hint: str | None = None) -> Verdict:
    """OK, WARNING or CRITICAL for ``chain`` as ``host`` showed it at ``now``.

    CRITICAL when it does not verify (the reason told for people: expired and since
    when, not yet valid, for which names, no trusted issuer with ``untrusted_hint``
    after it) or when its earliest expiry is fewer than ``crit_days`` away; WARNING
    when fewer than ``warn_days``; OK otherwise, with the earliest expiry named.
    """
    earliest = chain.earliest
    days = None if earliest is None else (earliest.not_after - now).total_seconds() / 86400
    if not chain.verified:
        return Verdict("CRITICAL", _verify_failure(chain, host, now, untrusted_hint), days)
    if earliest is None or days is None:
        return Verdict("CRITICAL", f"the chain of {host} verified, but no certificate in it could be read", None)
    when = f"{for_people(earliest.not_after)}, {earliest.subject}"
    whole = round(days)
    if days < crit_days:
        return Verdict("CRITICAL", f"a certificate in the chain expires in {_days(whole)} ({when}); "
                                   f"critical below {crit_days:g} days", days)
    if days < warn_days:
        return Verdict("WARNING", f"a certificate in the chain expires in {_days(whole)} ({when}); "
                                  f"warning below {warn_days:g} days", days)
    return Verdict("OK", f"chain verifies for {host}; earliest expiry in {_days(whole)} ({when})", days)


def _verify_failure(chain: Chain, host: str, now: dt.datetime, untrusted_hint: str | None) -> str:
    code, message = chain.verify_code, (chain.verify_message or "verification failed")
    leaf = chain.certificates[0] if chain.certificates else None
    if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
        expired = [c for c in chain.certificates if c.not_after < now]
        if expired:
            c = min(expired, key=lambda c: c.not_after)
            ago = int((now - c.not_after).total_seconds() // 86400)
            return f"certificate expired {_days(ago)} ago ({for_people(c.not_after)}, {c.subject})"
        return "certificate has expired"
    if code == 9:  # X509_V_ERR_CERT_NOT_YET_VALID
        if leaf and leaf.not_before:
            return f"certificate is not valid until {for_people(leaf.not_before)}"
        return "certificate is not yet valid"
    if code in (62, 64):  # hostname / IP address mismatch
        names = ", ".join(leaf.names[:5]) if leaf and leaf.names else "no names"
        return f"certificate is not valid for {host!r} (it is for: {names})"
    if code in (2, 18, 19, 20, 21):  # no trusted issuer
        return f"chain does not verify: {message}" + (f"; {untrusted_hint}" if untrusted_hint else "")
    return f"chain does not verify: {message}"


def _days(n: float) -> str:
    n = int(n)
    return "1 day" if n == 1 else f"{n} days"
