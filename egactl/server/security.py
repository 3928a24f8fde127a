"""Bearer tokens and roles.

- ``admin``: e-GA staff; everything.
- ``operator``: an institution's administrator; only the institutions listed on
  the token.
- ``helpdesk``: read-only, everywhere; personal data masked in responses.

Tokens are random (``ega_`` + 256 bits); the server keeps only their SHA-256 — a
fast hash is the right tool for high-entropy secrets (GitHub and PyPI do the
same) and it keeps authentication to one indexed lookup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from egactl.server.models import ApiToken
from egactl.server.problems import Problem

ROLES = ("admin", "operator", "helpdesk")
TOKEN_PREFIX = "ega_"
PREFIX_LENGTH = 10  # what ``ApiToken.prefix`` keeps: "ega_" and 6 of the 43 random characters

log = logging.getLogger("egactl.server.auth")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    token_id: int
    subject: str
    role: str
    institutions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def masks_personal_data(self) -> bool:
        return self.role == "helpdesk"

    def can_read(self, institution: str | None) -> bool:
        if self.role in ("admin", "helpdesk"):
            return True
        return institution is not None and institution in self.institutions

    def can_write(self, institution: str | None) -> bool:
        if self.role == "admin":
            return True
        return self.role == "operator" and institution is not None and institution in self.institutions

    def check_read(self, institution: str | None, *, lookup: str | None = None) -> None:
        """403 naming the institution, or — ``lookup`` — a 404 that names nothing.

        ``lookup`` is for a resource found by a personal key the caller typed
        (an employee number, a phone number): "not yours" would tell the caller
        that the person exists and where they work, so the refusal reads
        exactly as "{lookup} not found" does.
        """
        if not self.can_read(institution):
            if lookup is not None:
                raise Problem(404, f"{lookup} not found")
            raise Problem(403, f"this token may not read resources of institution {institution}")

    def check_write(self, institution: str | None, *, lookup: str | None = None) -> None:
        if self.role == "helpdesk":
            raise Problem(403, "the helpdesk role is read-only")
        if not self.can_write(institution):
            if lookup is not None and not self.can_read(institution):
                raise Problem(404, f"{lookup} not found")
            raise Problem(403, f"this token may not change resources of institution {institution}")

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Problem(403, f"this needs the {' or '.join(roles)} role; this token has {self.role}")

    def visible_institutions(self) -> tuple[str, ...] | None:
        """None means all; otherwise the only institutions this token may see."""
        return None if self.role in ("admin", "helpdesk") else self.institutions


def issue_token(session: Session, *, subject: str, role: str, institutions: list[str] | None = None,
                now: dt.datetime, expires_at: dt.datetime | None = None) -> tuple[str, ApiToken]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if role == "operator" and not institutions:
        raise ValueError("an operator token needs at least one institution")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(subject=subject, role=role, institutions=sorted(set(institutions or [])),
                   token_hash=hash_token(token), prefix=token[:PREFIX_LENGTH], created_at=now, expires_at=expires_at)
    session.add(row)
    session.flush()
    return token, row


def authenticate(session: Session, authorization: str | None, now: dt.datetime) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "no bearer token was sent", headers={"WWW-Authenticate": "Bearer"})
    token = authorization.split(" ", 1)[1].strip()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        raise Problem(401, "the token is not valid (unknown or revoked)", headers={"WWW-Authenticate": "Bearer"})
    if row.expires_at is not None and row.expires_at <= now:
        raise Problem(401, "the token has expired", headers={"WWW-Authenticate": "Bearer"})
    return Principal(row.id, row.subject, row.role, tuple(row.institutions or ()))


def active_admin_tokens(session: Session, now: dt.datetime) -> int:
    """How many admin tokens still work (not revoked, not expired)."""
    from sqlalchemy import func, or_

    return session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.role == "admin", ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))) or 0


def token_prefix(authorization: str | None) -> str:
    """What a log may say about a presented token: its stored prefix, never more.

    A value that is not an egactl token (a password pasted by mistake) is not
    quoted at all.
    """
    if not authorization:
        return "(none)"
    if not authorization.lower().startswith("bearer "):
        return "(not a bearer token)"
    token = authorization.split(" ", 1)[1].strip()
    if not token.startswith(TOKEN_PREFIX):
        return "(not an egactl token)"
    return re.sub(r"[^A-Za-z0-9_-]", "?", token[:PREFIX_LENGTH])


class FailedLogins:
    """Failed authentications per client address in a sliding minute (one per server process).

    After ``limit`` failures within 60 seconds an address gets 429 with
    ``Retry-After`` (until its oldest failure is a minute old) for every
    request, with a valid token or not, so that guessing cannot go on. Memory is
    bounded: at most ``max_clients`` addresses are tracked (the least recently
    failing are forgotten first).
    """

    WINDOW = dt.timedelta(minutes=1)

    def __init__(self, max_clients: int = 10_000):
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, deque[dt.datetime]] = OrderedDict()
        self.max_clients = max_clients

    def _recent(self, client: str, now: dt.datetime) -> deque[dt.datetime] | None:
        times = self._seen.get(client)
        if times is None:
            return None
        while times and now - times[0] >= self.WINDOW:
            times.popleft()
        if not times:
            del self._seen[client]
            return None
        return times

    def retry_after(self, client: str, now: dt.datetime, limit: int) -> int | None:
        """Seconds the client must wait, or None if it may try."""
        if limit <= 0:
            return None
        with self._lock:
            times = self._recent(client, now)
            if times is None or len(times) < limit:
                return None
            return max(1, math.ceil((times[-limit] + self.WINDOW - now).total_seconds()))

    def failed(self, client: str, now: dt.datetime) -> None:
        with self._lock:
            times = self._recent(client, now) or deque()
            times.append(now)
            self._seen[client] = times
            self._seen.move_to_end(client)
            while len(self._seen) > self.max_clients:
                self._seen.popitem(last=False)


def failures_per_minute(setting: object) -> int:
    """The ``auth.failures_per_minute`` setting (env EGACTL_AUTH_FAILURES_PER_MINUTE); 0 turns the limit off."""
    if setting is None or setting == "":
        return DEFAULT_FAILURES_PER_MINUTE
    try:
        return max(0, int(setting))
    except (TypeError, ValueError):
        log.warning("EGACTL_AUTH_FAILURES_PER_MINUTE=%r is not a number; using %d", setting,
                    DEFAULT_FAILURES_PER_MINUTE)
        return DEFAULT_FAILURES_PER_MINUTE


DEFAULT_FAILURES_PER_MINUTE = 10


def refuse_if_held_back(failures: FailedLogins, client: str, now: dt.datetime, limit: int) -> None:
    """429 with ``Retry-After`` for a client address with ``limit`` failed authentications in the last minute."""
    wait = failures.retry_after(client, now, limit)
    if wait is not None:
        raise Problem(429, f"too many failed authentications from this address; try again in {wait} s",
                      headers={"Retry-After": str(wait)})


def guarded_authenticate(session: Session, authorization: str | None, now: dt.datetime, *, failures: FailedLogins,
                         limit: int, client: str, route: str) -> Principal:
    """``authenticate``, refused with 429 for a client that failed too often; every failure logged.

    The log line names the token's prefix (never the token), the client address
    and the route, so an operator can tell a forgotten expired token from
    someone guessing.
    """
    refuse_if_held_back(failures, client, now, limit)
    try:
        return authenticate(session, authorization, now)
    except Problem as exc:
        failures.failed(client, now)
        log.warning("authentication failed: %s; token %s; client %s; route %s", exc.detail,
                    token_prefix(authorization), loggable(client), loggable(route))
        raise


# +255754111222, 255754111222, 0754111222 (mobile ranges 6x and 7x), not inside a longer number.
PHONE_RE = re.compile(r"(?<![0-9])(\+?255|0)([67][0-9]{2})([0-9]{3})([0-9]{3})(?![0-9])")


def mask_phones(text: str) -> str:
    """Every mobile number in ``text``: +255754111222 → +255754***222 (enough to look one up)."""
    return PHONE_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}***{m.group(4)}", text)


def loggable(text: str, limit: int = 200) -> str:
    """Text from a request made safe for one log line: no control characters (no forged
    lines), no mobile numbers (a path may hold one), bounded length."""
    text = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return mask_phones(text)


class SafeFormatter(logging.Formatter):
    """The server log's formatter: tracebacks without the database's own echo of the data.

    SQL parameters are hidden by the engine (``hide_parameters``), but a
    PostgreSQL error carries its own ``DETAIL: Key (address)=(juma.mrisho@…)``
    line and a message may quote a number; those lines are dropped and mobile
    numbers masked before anything reaches the log.
    """

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        text = super().formatException(ei)
        return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("DETAIL:", "Key (")))

    def format(self, record: logging.LogRecord) -> str:
        return mask_phones(super().format(record))


def mask_phone(number: str | None) -> str | None:
    """+255754123456 → +255754***456, 0754123456 → 0754***456: enough for the help desk
    to confirm, not to use. At least three digits are always hidden."""
    if not number:
        return number
    masked = mask_phones(number)
    if masked != number:
        return masked
    if len(number) <= 6:
        return "*" * len(number)
    return number[:min(7, len(number) - 6)] + "***" + number[-3:]


def mask_name(name: str | None) -> str | None:
    """Juma Mrisho → J*** M*****."""
    if not name:
        return name
    return " ".join(part[:1] + "*" * (len(part) - 1) for part in name.split())
