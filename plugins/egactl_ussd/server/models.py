"""The registry's tables: one row per code (all 100 exist from the start), and
one row per (code, mobile network) for provisioning.

One row per code is what makes "never the same code to two institutions" true
by construction: a code has exactly one holder column, and every change to it
is a compare-and-set on the row's version (SQLAlchemy's ``version_id_col``), so
two writers that raced past the allocation lock would still not both win.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from egactl.plugin import personal
from egactl.plugin.server import Base, UTCDateTime, Versioned, unversioned
from egactl_ussd import rules

STAFF = personal("email", why="the staff account that acted: accountability")
NOT_A_PERSONS_NAME = {"personal": None, "why": "not a person's: the name citizens know a service by"}
NOT_A_PERSONS_TEXT = {"personal": None, "why": "not a person's: e-GA's or an institution's own words about a code"}

GATEWAY_HOLDER = "EGA"
GATEWAY_REFERENCE = "e-GA USSD gateway"

_states = ", ".join(f"'{s}'" for s in rules.STATES)
_prov = ", ".join(f"'{s}'" for s in rules.PROVISIONING_STATES)


class UssdCode(Versioned, Base):
    __tablename__ = "ussd_codes"
    __table_args__ = (
        CheckConstraint(f"id BETWEEN {rules.FIRST} AND {rules.LAST}", name="ck_ussd_codes_range"),
        CheckConstraint(f"state IN ({_states})", name="ck_ussd_codes_state"),
        CheckConstraint("state = 'available' OR institution IS NOT NULL", name="ck_ussd_codes_holder"),
        CheckConstraint("state <> 'released' OR quarantine_until IS NOT NULL", name="ck_ussd_codes_quarantine"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """The code's number, 0–99: ``*152*07#`` is row 7."""
    state: Mapped[str] = mapped_column(String(16), index=True)
    institution: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    application_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_name: Mapped[str | None] = mapped_column(String(80), nullable=True, info=NOT_A_PERSONS_NAME)
    purpose: Mapped[str | None] = mapped_column(Text, nullable=True)
    callback_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)
    """Why the last suspend, resume or release happened."""
    reserved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    quarantine_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    networks: Mapped[list["UssdProvisioning"]] = relationship(
        back_populates="code", cascade="all, delete-orphan", order_by="UssdProvisioning.position", lazy="selectin")


@unversioned("part of its code: changed only with the code's version")
class UssdProvisioning(Base):
    """Where a code stands on one mobile network: pending, live or failed."""

    __tablename__ = "ussd_provisioning"
    __table_args__ = (
        UniqueConstraint("code_id", "network", name="uq_ussd_provisioning_code_network"),
        CheckConstraint(f"state IN ({_prov})", name="ck_ussd_provisioning_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("ussd_codes.id", ondelete="CASCADE"), index=True)
    network: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)
    """A network's ticket or remark about provisioning the code."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    code: Mapped[UssdCode] = relationship(back_populates="networks")


@unversioned("an e-GA grant replaced whole by PUT under the allocation lock: nothing is read and modified")
class UssdQuota(Base):
    """How many codes one institution may hold, where e-GA granted other than the default.

    The default is the backend's ``ussd.quota`` setting; a row here replaces it for
    one institution (``egactl ussd quota set``).
    """

    __tablename__ = "ussd_quotas"
    __table_args__ = (CheckConstraint(f"quota BETWEEN 0 AND {rules.LAST}", name="ck_ussd_quotas_range"),)

    institution: Mapped[str] = mapped_column(String(32), primary_key=True)
    quota: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)
    set_by: Mapped[str] = mapped_column(String(200), info=STAFF)
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@event.listens_for(UssdCode.__table__, "after_create")
def _create_every_code(table, connection, **_kw) -> None:
    """The whole range exists from the moment the table does.

    This runs inside the schema migration's transaction, which every starting
    backend (sandbox, ``egactl serve`` on SQLite or PostgreSQL, several at once)
    takes under one lock; so the 100 rows appear exactly once, with no
    read-then-create anywhere. ``*152*00#`` starts reserved for e-GA's gateway.
    """
    rows = [{"id": n, "state": "available", "version": 1} for n in range(rules.FIRST, rules.LAST + 1)]
    rows[rules.GATEWAY] = {"id": rules.GATEWAY, "state": "reserved", "institution": GATEWAY_HOLDER,
                                "application_reference": GATEWAY_REFERENCE, "service_name": "e-GA USSD gateway",
                                "purpose": "The government USSD gateway that routes *152*NN# to institutions",
                                "version": 1}
    keys = sorted({k for r in rows for k in r})
    connection.execute(table.insert(), [{k: r.get(k) for k in keys} for r in rows])


TABLES = [UssdCode.__table__, UssdProvisioning.__table__, UssdQuota.__table__]

