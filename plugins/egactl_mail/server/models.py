"""The mail service's tables.

Address uniqueness lives in one place: ``mail_addresses``. Every mailbox,
alias and distribution list claims a row there (``address`` is unique), and a
deleted mailbox keeps its rows until it is purged, so a retained address can't
be handed out again. The database refuses a second claim, whatever the
application does.

Search keys (``address``, ``stem``, a name's tokens…) use the "C" collation on
PostgreSQL, so that prefix ranges (``>= 'juma' AND < 'juma\\uffff'``) mean the same
as on SQLite and can use the index. A mailbox's names are searched through
``mail_name_tokens`` (one row per word) and ``mail_name_pairs`` (see
``egactl_mail.server.names``).

Every column that holds personal data says so (``info=personal(...)``): staff
names, employee numbers and the addresses made from names are kept for running the
person's mailbox, and go when it is purged (docs/mail.md, "Personal data").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from egactl.plugin import personal
from egactl.plugin.server import Base, UTCDateTime, Versioned, unversioned


def key(length: int) -> String:
    """An ASCII key column, byte-ordered on PostgreSQL as on SQLite."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


INSTITUTION_FK = "core_institutions.code"

MAILBOX = "running the person's government mailbox"
ADDRESS_BOOK = "the government address book entry of a member of staff"


def not_personal(why: str) -> dict:
    """``info=`` for a column that only looks personal."""
    return {"personal": None, "why": f"not a person's: {why}"}


class MailDomain(Versioned, Base):
    """A mail domain of an institution; its naming rule and primary role change (``mail domains update``)."""

    __tablename__ = "mail_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(key(253), unique=True, info=not_personal("an institution's mail domain"))
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
    # Made from the person's names; a purged mailbox's becomes a pseudonym (privacy retention).
    address: Mapped[str] = mapped_column(key(254), index=True, info=personal("email", why=MAILBOX))
    # The HCMIS key; unique among mailboxes that still exist (purge sets it to NULL).
    employee_number: Mapped[str | None] = mapped_column(key(20), unique=True, nullable=True,
                                                        info=personal("employee_number", why=MAILBOX))
    given_name: Mapped[str | None] = mapped_column(String(100), nullable=True, info=personal("name", why=ADDRESS_BOOK))
    family_name: Mapped[str | None] = mapped_column(String(100), nullable=True, info=personal("name", why=ADDRESS_BOOK))
    preferred_name: Mapped[str | None] = mapped_column(String(100), nullable=True,
                                                       info=personal("name", why=ADDRESS_BOOK))
    title: Mapped[str | None] = mapped_column(String(100), nullable=True, info=personal("text", why=ADDRESS_BOOK))
    department: Mapped[str | None] = mapped_column(String(100), nullable=True, info=personal("text", why=ADDRESS_BOOK))
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
    address: Mapped[str] = mapped_column(key(254), unique=True, info=not_personal("a distribution list's address"))
    name: Mapped[str] = mapped_column(String(200), info=not_personal("a distribution list's name"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("part of its mailbox or list: changed only after guarding that row")
class MailAddress(Base):
    """One claimed address: a mailbox's primary address, an alias, or a list."""

    __tablename__ = "mail_addresses"
    __table_args__ = (Index("ix_mail_addresses_domain_stem", "domain", "stem"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A mailbox's or an alias's address is made from a person's names (a list's is not).
    address: Mapped[str] = mapped_column(key(254), unique=True, info=personal("email", why=MAILBOX))
    local_part: Mapped[str] = mapped_column(key(64), info=personal("email", why=MAILBOX))
    domain: Mapped[str] = mapped_column(key(253))
    stem: Mapped[str] = mapped_column(key(64), info=personal("email", why=MAILBOX))
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
    # A mailbox's address, a list's, or a person's outside address.
    member: Mapped[str] = mapped_column(key(254), info=personal("email", why="delivering a distribution list's mail"))
    kind: Mapped[str] = mapped_column(String(8))  # mailbox | list | external
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mail_mailboxes.id"), index=True, nullable=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("derived from its mailbox's names: rewritten whenever they are (egactl_mail.server.names)")
class MailNameToken(Base):
    """One word of a mailbox's names (``egactl.plugin.rules.name_tokens``), for searching names.

    A name query's every word is looked up as a prefix range of ``token``, and the
    mailboxes found for each word intersected: the one name matching of ``mail list
    --search`` and ``egactl find``, index-backed however many mailboxes there are.
    ``position`` keeps a word that occurs twice (``Juma Juma``) twice.
    """

    __tablename__ = "mail_name_tokens"
    __table_args__ = (Index("ix_mail_name_tokens_token_mailbox", "token", "mailbox_id"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mail_mailboxes.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(key(100), info=personal("name", why=ADDRESS_BOOK))

    mailbox: Mapped[Mailbox] = relationship(Mailbox)


@unversioned("derived from its mailbox's names: rewritten whenever they are (egactl_mail.server.names)")
class MailNamePair(Base):
    """Two words of a mailbox's names, at different places, in either order: ``(juma, mrisho)``
    and ``(mrisho, juma)``.

    A two-word name query (the help desk's usual "juma mr") is one range of the index
    (``first`` starting with one word, ``second`` with the other) instead of two ranges
    of ``mail_name_tokens`` intersected: the intersection hashed every mailbox whose
    names have a word starting "mr" (40,000 at national size) to find a few hundred.
    """

    __tablename__ = "mail_name_pairs"
    __table_args__ = (Index("ix_mail_name_pairs_first_second_mailbox", "first", "second", "mailbox_id"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mail_mailboxes.id"), primary_key=True)
    first: Mapped[str] = mapped_column(key(100), primary_key=True, info=personal("name", why=ADDRESS_BOOK))
    second: Mapped[str] = mapped_column(key(100), primary_key=True, info=personal("name", why=ADDRESS_BOOK))

    mailbox: Mapped[Mailbox] = relationship(Mailbox)


TABLES = [MailDomain.__table__, Mailbox.__table__, MailList.__table__, MailAddress.__table__,
          MailListMember.__table__, MailNameToken.__table__, MailNamePair.__table__]
