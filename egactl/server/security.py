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
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from egactl.server.models import ApiToken
from egactl.server.problems import Problem

ROLES = ("admin", "operator", "helpdesk")
TOKEN_PREFIX = "ega_"


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

    def check_read(self, institution: str | None) -> None:
        if not self.can_read(institution):
            raise Problem(403, f"this token may not read resources of institution {institution}")

    def check_write(self, institution: str | None) -> None:
        if self.role == "helpdesk":
            raise Problem(403, "the helpdesk role is read-only")
        if not self.can_write(institution):
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
                   token_hash=hash_token(token), prefix=token[:10], created_at=now, expires_at=expires_at)
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


def mask_phone(number: str | None) -> str | None:
    """+255754123456 → +255754***456: enough for the help desk to confirm, not to use."""
    if not number:
        return number
    if len(number) <= 6:
        return "*" * len(number)
    return number[:7] + "*" * max(0, len(number) - 10) + number[-3:]


def mask_name(name: str | None) -> str | None:
    """Juma Mrisho → J*** M*****."""
    if not name:
        return name
    return " ".join(part[:1] + "*" * (len(part) - 1) for part in name.split())
