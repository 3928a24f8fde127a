"""The mail service's tables.

Address uniqueness lives in one place: ``mail_addresses``. Every mailbox,
alias and distribution list claims a row there (``address`` is unique), and a
deleted mailbox keeps its rows until it is purged, so a retained address can't
be handed out again. The database refuses a second claim, whatever the
application does.

Search keys (``address``, ``stem``, ``name_key``…) are ASCII; on PostgreSQL
they use the "C" collation so that prefix ranges (``>= 'juma' AND < 'juma\\x7f'``)
mean the same as on SQLite and can use the index.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from egactl.plugin.server import Base, UTCDateTime, Versioned, unversioned


def key(length: int) -> String:
    """An ASCII key column, byte-ordered on PostgreSQL as on SQLite."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


INSTITUTION_FK = "core_institutions.code"


class MailDomain(Versioned, Base):
    """A mail domain of an institution; its naming rule and primary role change (``mail domains update``)."""

    __tablename__ = "mail_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(key(253), unique=True)
    institution: Mapped[str] = mapped_column(String(32), ForeignKey(INSTITUTION_FK), index=True)
    naming_rule: Mapped[str] = mapped_column(String(20))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Mailbox(Versioned, Base):
    __tablename__ = "mail_mailboxes"
    __table_args__ = (
        # `mail list` pages in id order: the institution (and the state) followed by that order
        Index("ix_mail_mailboxes_institution_id", "institution", "id"),
        Index("ix_mail_mailboxes_institution_status_id", "institution", "status", "id"),
        Index("ix_mail_mailboxes_retention", "status", "retain_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(String(32), ForeignKey(INSTITUTION_FK))
    domain: Mapped[str] = mapped_column(key(253))
    address: Mapped[str] = mapped_column(key(254), index=True)
    # The HCMIS key; unique among mailboxes that still exist (purge sets it to NULL).
    employee_number: Mapped[str | None] = mapped_column(key(20), unique=True, nullable=True)
    given_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    family_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    preferred_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    name_key: Mapped[str | None] = mapped_column(key(300), index=True, nullable=True)
    name_key_rev: Mapped[str | None] = mapped_column(key(300), index=True, nullable=True)
    title: Mapped[str | None] = mapped_column(String(100), nullable=True)
    department: Mapped[str | None] = mapped_column(String(100), nullable=True)
    quota_mb: Mapped[int] = mapped_column(Integer)
    used_mb: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12))
    deleted_from: Mapped[str | None] = mapped_column(String(12), nullable=True)
    # Who suspended it: "manual" or "reconcile" (reconcile restores only its own).
    suspended_by: Mapped[str | None] = mapped_column(String(12), nullable=True)
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    retain_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_set_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MailList(Versioned, Base):
    """A distribution list; its address is claimed in ``mail_addresses`` like any other."""

    __tablename__ = "mail_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(String(32), ForeignKey(INSTITUTION_FK), index=True)
    address: Mapped[str] = mapped_column(key(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("part of its mailbox or list: changed only after guarding that row")
class MailAddress(Base):
    """One claimed address: a mailbox's primary address, an alias, or a list."""

    __tablename__ = "mail_addresses"
    __table_args__ = (Index("ix_mail_addresses_domain_stem", "domain", "stem"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(key(254), unique=True)
    local_part: Mapped[str] = mapped_column(key(64))
    domain: Mapped[str] = mapped_column(key(253))
    stem: Mapped[str] = mapped_column(key(64))
    kind: Mapped[str] = mapped_column(String(8))  # mailbox | alias | list
    institution: Mapped[str] = mapped_column(String(32))
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mail_mailboxes.id"), index=True, nullable=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("mail_lists.id", ondelete="CASCADE"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    # Lets one flush insert a new mailbox and its claim in the right order.
    mailbox: Mapped[Mailbox | None] = relationship(Mailbox)
    mail_list: Mapped[MailList | None] = relationship(MailList)


@unversioned("part of its list: changed only after guarding the list")
class MailListMember(Base):
    __tablename__ = "mail_list_members"
    __table_args__ = (UniqueConstraint("list_id", "member", name="uq_mail_list_members_list_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("mail_lists.id", ondelete="CASCADE"))
    member: Mapped[str] = mapped_column(key(254))
    kind: Mapped[str] = mapped_column(String(8))  # mailbox | list | external
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mail_mailboxes.id"), index=True, nullable=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


TABLES = [MailDomain.__table__, Mailbox.__table__, MailList.__table__, MailAddress.__table__,
          MailListMember.__table__]
