"""The core's tables: tokens, institutions, audit log, idempotency store, the server's secrets.

A change here comes with a revision in egactl/server/migrations/ (egactl.server.schema).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from egactl.plugin import personal
from egactl.server.db import Base, UTCDateTime, Versioned, unversioned

NOT_PERSONAL_INSTITUTION = {"personal": None, "why": "an institution's, not a person's"}


@unversioned("a token is only ever revoked, under a row lock (etag.lock); its representation has no ETag")
class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token is shown once, at creation."""

    __tablename__ = "core_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), info=personal("email", why="who holds the token: accountability"))
    role: Mapped[str] = mapped_column(String(20))
    institutions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Institution(Versioned, Base):
    __tablename__ = "core_institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), info=NOT_PERSONAL_INSTITUTION)
    kind: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contact_email: Mapped[str | None] = mapped_column(String(254), nullable=True, info=NOT_PERSONAL_INSTITUTION)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("append-only")
class AuditEntry(Base):
    __tablename__ = "core_audit"
    # Each filter of `audit list` and of a resource's history, followed by the page
    # order (time, then id), so a page is one index range at any size of the log.
    __table_args__ = (
        Index("ix_core_audit_at_id", "at", "id"),
        Index("ix_core_audit_actor_at_id", "actor", "at", "id"),
        Index("ix_core_audit_action_at_id", "action", "at", "id"),
        Index("ix_core_audit_institution_at_id", "institution", "at", "id"),
        Index("ix_core_audit_resource_at_id", "resource_type", "resource_id", "at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200), info=personal("email", why="who made a change: accountability"))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(200), info=personal("text", why="names what changed; may be a phone number"))
    institution: Mapped[str | None] = mapped_column(String(32), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True, info=personal("text", why="why a change was made"))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, info=personal("text", why="what a change replaced"))
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, info=personal("text", why="what a change made"))


@unversioned("written once with the response it stores; expired ones are deleted")
class IdempotencyRecord(Base):
    """A creating POST's stored response, keyed by (token, Idempotency-Key).

    Written in the same transaction as the mutation it answers for, so "the
    server committed but the client never heard" always replays.
    """

    __tablename__ = "core_idempotency"
    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_core_idempotency_token_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("core_tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary, info=personal("text", why="the answer a retried request replays; it expires"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


@unversioned("written once, when the server first needs it, and never changed")
class ServerSecret(Base):
    """A secret of the server itself (e.g. the key of personal data's pseudonyms), made on first use."""

    __tablename__ = "core_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True, info={"personal": None, "why": "a secret's name"})
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


CORE_TABLES = [ApiToken.__table__, Institution.__table__, AuditEntry.__table__, IdempotencyRecord.__table__,
               ServerSecret.__table__]
