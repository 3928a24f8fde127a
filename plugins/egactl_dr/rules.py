"""The DR inventory's rules, shared by the commands (fail fast, before anything
is sent) and the backend (authoritative). Standard library only, so importing
it costs nothing on the command line.

Every rule follows the SDK's convention (``egactl.plugin.rules``): a
``normalise_*``/``parse_*`` rule returns the value in its stored form and
raises ``RuleError`` with the one line a user reads. The commands apply them
with ``egactl.plugin.cli.enforce``, request bodies with
``egactl.plugin.server.rule_validator``.

Endpoints name what the probes talk to:

- ``https://host[:port]/path`` and ``http://…``: an HTTP GET (usually a health
  endpoint, which is also where the version and the last-replicated time are
  read); TLS is checked for https;
- ``tls://host:port``: a TLS handshake only (LDAPS, a database over TLS…);
- ``tcp://host:port`` or plain ``host:port``: a TCP connect only.

Field sources say where a value is read from a health response:
``json:replication.last_replicated_at`` (a dotted path into the JSON body;
numeric parts index lists) or ``header:X-App-Version``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from egactl.plugin.rules import (RuleError, check_institution_code, enforce, format_duration, parse_duration,
                                 time_from_people)

CRITICALITIES = ("low", "medium", "high", "critical")
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
HOSTING_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()/-]{0,79}$")
HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
                         r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$")
HEADER_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
JSON_PATH_RE = re.compile(r"^[A-Za-z0-9_@$-]+(\.[A-Za-z0-9_@$-]+)*$")

# Thresholds every system starts with; a system stores only its overrides.
DEFAULT_THRESHOLDS: dict[str, Any] = {
    "timeout_seconds": 5.0,          # each probe's own timeout
    "response_warn_seconds": 2.0,    # an answer slower than this is a WARNING
    "cert_warn_days": 30,            # earliest expiry in the chain
    "cert_crit_days": 7,
    "replication_warn_pct": 80,      # of the RPO; beyond 100 % it is CRITICAL
    "backup_warn_hours": 26,         # a daily backup, with slack
    "backup_crit_hours": 48,
    "drill_warn_days": 335,          # drills are due yearly
    "drill_crit_days": 365,
    "version_mismatch": "critical",  # or "warning"
}

_THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "timeout_seconds": (0.05, 120),
    "response_warn_seconds": (0.001, 120),
    "cert_warn_days": (0, 3650),
    "cert_crit_days": (0, 3650),
    "replication_warn_pct": (1, 100),
    "backup_warn_hours": (0.1, 24 * 366),
    "backup_crit_hours": (0.1, 24 * 366),
    "drill_warn_days": (1, 3650),
    "drill_crit_days": (1, 3650),
}
_THRESHOLD_CHOICES = {"version_mismatch": ("critical", "warning")}
_ORDERED_PAIRS = (("cert_crit_days", "cert_warn_days", "cert_crit_days must be below cert_warn_days"),
                  ("backup_warn_hours", "backup_crit_hours", "backup_warn_hours must be below backup_crit_hours"),
                  ("drill_warn_days", "drill_crit_days", "drill_warn_days must not exceed drill_crit_days"))


# -- names ------------------------------------------------------------------------


def normalise_name(value: str) -> str:
    name = value.strip().lower()
    if not NAME_RE.match(name):
        raise RuleError(f"system name {value!r} must be 1-64 lowercase letters, digits, '.', '_' or '-' "
                        "(e.g. crvs, e-office)")
    return name


def normalise_hosting(value: str) -> str:
    value = value.strip()
    if not HOSTING_RE.match(value):
        raise RuleError(f"hosting environment {value!r} must be 1-80 letters, digits, spaces or ._()/- "
                        "(e.g. gdc-dodoma)")
    return value


def normalise_criticality(value: str) -> str:
    v = value.strip().lower()
    if v not in CRITICALITIES:
        raise RuleError(f"criticality {value!r} must be one of {', '.join(CRITICALITIES)}")
    return v


def split_system_ref(ref: str, default_institution: str | None) -> tuple[str, str]:
    """``RITA/crvs`` → (RITA, crvs); ``crvs`` takes the default institution."""
    inst, sep, name = ref.strip().rpartition("/")
    if not sep:
        if not default_institution:
            raise RuleError(f"system {ref!r} needs its institution: write INSTITUTION/NAME (e.g. RITA/{ref.strip()}) "
                            "or pass --institution")
        inst = default_institution
    if not inst.strip():
        raise RuleError(f"system {ref!r}: the institution before '/' is empty")
    return enforce(check_institution_code, inst.strip().upper()), normalise_name(name)


# -- endpoints --------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint: what to probe and how."""

    url: str          # canonical form, as stored
    scheme: str       # http, https, tls or tcp
    host: str         # without brackets for IPv6
    port: int

    @property
    def is_http(self) -> bool:
        return self.scheme in ("http", "https")

    @property
    def uses_tls(self) -> bool:
        return self.scheme in ("https", "tls")

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_endpoint(value: str) -> Endpoint:
    raw = value.strip()
    if not raw:
        raise RuleError("endpoint is empty")
    text = raw if "://" in raw else f"tcp://{raw}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise RuleError(f"endpoint {raw!r} is not a URL or host:port ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "tls", "tcp"):
        raise RuleError(f"endpoint {raw!r}: scheme must be https, http, tls or tcp")
    host = parts.hostname or ""
    if not host:
        raise RuleError(f"endpoint {raw!r} has no host")
    if not _valid_host(host):
        raise RuleError(f"endpoint {raw!r}: {host!r} is not a host name or IP address")
    if parts.username or parts.password:
        raise RuleError(f"endpoint {raw!r}: credentials do not belong in an endpoint")
    if scheme in ("tls", "tcp"):
        if port is None:
            raise RuleError(f"endpoint {raw!r} needs a port (host:port)")
        if parts.path not in ("", "/") or parts.query:
            raise RuleError(f"endpoint {raw!r}: a {scheme} endpoint has no path")
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return Endpoint(f"{scheme}://{netloc}", scheme, host, port)
    if port == 0:
        raise RuleError(f"endpoint {raw!r}: port 0")
    default_port = 443 if scheme == "https" else 80
    canonical = f"{scheme}://{parts.netloc.lower()}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    return Endpoint(canonical, scheme, host, port or default_port)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(HOSTNAME_RE.match(host))


def normalise_endpoint(value: str) -> str:
    return parse_endpoint(value).url


def normalise_http_url(value: str) -> str:
    ep = parse_endpoint(value)
    if not ep.is_http:
        raise RuleError(f"{value!r} must be an http or https URL")
    return ep.url


# -- field sources ----------------------------------------------------------------


@dataclass(frozen=True)
class FieldSource:
    kind: str   # "json" or "header"
    path: str   # dotted JSON path, or header name

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"

    def describe(self) -> str:
        return f"header {self.path}" if self.kind == "header" else f"JSON field {self.path!r}"


def parse_field_source(value: str) -> FieldSource:
    kind, sep, path = value.strip().partition(":")
    kind = kind.strip().lower()
    path = path.strip()
    if not sep or kind not in ("json", "header"):
        raise RuleError(f"field source {value!r} must be json:PATH (e.g. json:build.version) or header:NAME "
                        "(e.g. header:X-App-Version)")
    if kind == "json" and not JSON_PATH_RE.match(path):
        raise RuleError(f"field source {value!r}: the JSON path must be dot-separated names or list indexes")
    if kind == "header" and not HEADER_RE.match(path):
        raise RuleError(f"field source {value!r}: {path!r} is not an HTTP header name")
    return FieldSource(kind, path)


def normalise_field_source(value: str) -> str:
    return str(parse_field_source(value))


# -- durations and times ----------------------------------------------------------


def parse_minutes(value: str | float | int, what: str = "duration") -> float:
    """``15m``, ``4h``, ``1h30m``, ``2d``, ``90s``; a bare number is minutes (the SDK's duration rule)."""
    return parse_duration(value, what)


def parse_target(value: str | float | int, what: str) -> float:
    """A recovery objective (RPO, RTO): a duration of more than zero, in minutes."""
    minutes = parse_minutes(value, what)
    if minutes <= 0:
        raise RuleError(f"{what} {value!r} must be more than zero")
    return minutes


format_minutes = format_duration
"""15 → "15 min"; 90 → "1 h 30 min"; 2880 → "2 d"."""


def parse_time(value: str, now: dt.datetime) -> dt.datetime:
    """A TIME option: how long ago (``90m``, ``2h``, ``3d``), or a time as people read them
    (``2026-11-20 11:30 EAT``; without a zone, East Africa Time; RFC 3339 with its offset):
    the SDK's ``time_from_people``."""
    text = value.strip()
    if re.fullmatch(r"(\d+(?:\.\d+)?[smhdw])+", text.lower()):
        return now - dt.timedelta(minutes=parse_minutes(text, "time"))
    if not re.match(r"\d{4}-", text):  # neither how long ago nor a date: name both forms
        raise RuleError(f"time {value!r} must be how long ago (90m, 2h, 3d) or a time: 2026-11-20 11:30 "
                        f"(East Africa Time), or with a zone: 2026-11-20 08:30 UTC, 2026-11-20T08:30Z")
    return time_from_people(text, "time")


# -- thresholds -------------------------------------------------------------------


def parse_threshold_assignment(text: str) -> tuple[str, Any]:
    """``cert_warn_days=45`` → ("cert_warn_days", 45); ``KEY=default`` → (KEY, None): drop the override."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise RuleError(f"threshold {text!r} must be KEY=VALUE (e.g. cert_warn_days=45)")
    if key not in DEFAULT_THRESHOLDS:
        raise RuleError(f"unknown threshold {key!r}; known: {', '.join(DEFAULT_THRESHOLDS)}")
    if raw.lower() == "default":
        return key, None
    return key, _coerce_threshold(key, raw)


def _coerce_threshold(key: str, raw: Any) -> Any:
    default = DEFAULT_THRESHOLDS[key]
    if isinstance(default, str):
        value = str(raw).strip().lower()
        if value not in _THRESHOLD_CHOICES[key]:
            raise RuleError(f"threshold {key} must be one of {', '.join(_THRESHOLD_CHOICES[key])}, not {raw!r}")
        return value
    if isinstance(raw, bool):
        raise RuleError(f"threshold {key} must be a number, not {raw!r}")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise RuleError(f"threshold {key} must be a number, not {raw!r}") from None
    low, high = _THRESHOLD_RANGES[key]
    if not low <= number <= high:
        raise RuleError(f"threshold {key} must be between {low:g} and {high:g}, not {raw}")
    return int(number) if isinstance(default, int) and number.is_integer() else number


def normalise_thresholds(overrides: dict[str, Any]) -> dict[str, Any]:
    """Validate a system's overrides (types, ranges, warn-before-crit); returns them coerced."""
    clean = {}
    for key, raw in overrides.items():
        if key not in DEFAULT_THRESHOLDS:
            raise RuleError(f"unknown threshold {key!r}; known: {', '.join(DEFAULT_THRESHOLDS)}")
        clean[key] = _coerce_threshold(key, raw)
    merged = {**DEFAULT_THRESHOLDS, **clean}
    for low, high, message in _ORDERED_PAIRS:
        if merged[low] > merged[high] or (low == "cert_crit_days" and merged[low] == merged[high]):
            raise RuleError(f"{message} (now {merged[low]} and {merged[high]})")
    return clean


def effective_thresholds(overrides: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULT_THRESHOLDS, **(overrides or {})}


# -- CA bundles -------------------------------------------------------------------

PEM_CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")


def normalise_ca_bundle(pem: str) -> str:
    """The PEM certificates of a private CA (public data, no keys); returns them normalised."""
    if "PRIVATE KEY" in pem:
        raise RuleError("the CA bundle contains a private key; give only the CA certificate(s)")
    certs = PEM_CERT_RE.findall(pem)
    if not certs:
        raise RuleError("the CA bundle holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    if len(pem) > 256_000:
        raise RuleError("the CA bundle is larger than 256 kB")
    text = "\n".join(c.strip() for c in certs) + "\n"
    import ssl

    try:
        ssl.create_default_context(cadata=text)
    except ssl.SSLError as exc:
        raise RuleError(f"the CA bundle cannot be loaded ({exc.reason or exc})") from None
    return text


# -- verdict states -----------------------------------------------------------------

# Worst first: a failed check beats "cannot tell", which beats "degraded".
SEVERITY = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}
NAGIOS_EXIT = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def worst(states: list[str]) -> str:
    return max(states, key=SEVERITY.__getitem__, default="OK")
