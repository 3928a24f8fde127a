"""The emulator's tables: the registry (clients, APIs), the bus tokens it issued, its own key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from egactl.plugin.server import Base, UTCDateTime, Versioned, unversioned


class EsbClient(Versioned, Base):
    """A client of the bus: an institution's system, with its secret (hashed) and its public key."""

    __tablename__ = "esb_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    institution: Mapped[str] = mapped_column(String(32), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)
    curve: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class EsbApi(Versioned, Base):
    """An API code: who provides it (and at which endpoint, in which format), who may consume it."""

    __tablename__ = "esb_apis"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    institution: Mapped[str] = mapped_column(String(32), index=True)
    endpoint: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(4))
    consumers: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(200), nullable=True,
                                                    info={"personal": None, "why": "what an API does, not a person"})
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


@unversioned("issued once and only ever superseded by the token endpoint; nobody edits a token")
class EsbToken(Base):
    """A bus access token (client credentials). Only its hash is kept. A client's newer token
    supersedes its older ones: a request replayed with an old token is refused."""

    __tablename__ = "esb_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[int] = mapped_column(ForeignKey("esb_clients.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@unversioned("the bus's own key pair, made once at first use and never changed")
class EsbKey(Base):
    """The key the emulator signs its answers with (base64 of PKCS#8 DER). Never sent, never shown."""

    __tablename__ = "esb_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True, info={"personal": None, "why": "a key's name"})
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


TABLES = [EsbClient.__table__, EsbApi.__table__, EsbToken.__table__, EsbKey.__table__]
