"""GovNet's tables.

Race-free allocation rests on these constraints as much as on the pool lock:
a prefix's first address and a PoP's VLAN can each be held by one allocation
only, and a site has at most one open request (``open`` is 1 while the
request is open and NULL after, and NULLs never collide in a unique index).
Addresses are stored as integers so that free space can be queried by index.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from egactl.plugin import personal
from egactl.plugin.server import Base, UTCDateTime, Versioned, unversioned

STAFF = personal("email", why="the staff account that acted: accountability")
CONTACT = "who to call about the site's link"
NOT_A_PERSONS_TEXT = {"personal": None, "why": "not a person's: e-GA's or an institution's own words about its network"}


class Pool(Versioned, Base):
    __tablename__ = "govnet_pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True, info={"personal": None, "why": "not a person's: a pool's name"})
    cidr: Mapped[str] = mapped_column(String(18))
    start: Mapped[int] = mapped_column(BigInteger, unique=True)
    length: Mapped[int] = mapped_column(Integer)
    stop: Mapped[int] = mapped_column(BigInteger)
    """One past the last address."""
    default_prefix_length: Mapped[int] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    description: Mapped[str | None] = mapped_column(String(200), nullable=True, info=NOT_A_PERSONS_TEXT)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("part of its pool: changed only with it, under its ETag (the pool's version is touched)")
class PoolVlans(Base):
    """A pool's VLAN range at one point of presence."""

    __tablename__ = "govnet_pool_vlans"
    __table_args__ = (UniqueConstraint("pool_id", "pop", name="uq_govnet_pool_vlans_pop"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("govnet_pools.id", ondelete="CASCADE"))
    pop: Mapped[str] = mapped_column(String(32), index=True)
    first: Mapped[int] = mapped_column(Integer)
    last: Mapped[int] = mapped_column(Integer)


@unversioned("allocator state, changed only under the pool's allocation lock")
class FreeBlock(Base):
    """A maximal free aligned block of a pool (see egactl_govnet.addressing)."""

    __tablename__ = "govnet_free_blocks"
    __table_args__ = (
        UniqueConstraint("start", name="uq_govnet_free_blocks_start"),
        # Walked in address order; the first block long enough is the answer.
        Index("ix_govnet_free_blocks_order", "pool_id", "start", "length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("govnet_pools.id", ondelete="CASCADE"))
    start: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(Integer)


@unversioned("allocator state, changed only under the pool's allocation lock")
class FreeVlans(Base):
    """A run of free VLANs of a pool at one PoP (first … last), like the free list of prefixes."""

    __tablename__ = "govnet_free_vlans"
    __table_args__ = (
        UniqueConstraint("pop", "first", name="uq_govnet_free_vlans_first"),
        Index("ix_govnet_free_vlans_order", "pool_id", "pop", "first", "last"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("govnet_pools.id", ondelete="CASCADE"))
    pop: Mapped[str] = mapped_column(String(32))
    first: Mapped[int] = mapped_column(Integer)
    last: Mapped[int] = mapped_column(Integer)


class Site(Versioned, Base):
    __tablename__ = "govnet_sites"
    __table_args__ = (
        UniqueConstraint("institution", "name", name="uq_govnet_sites_name"),
        # egactl find and a data subject's report: the sites whose contact has a number.
        Index("ix_govnet_sites_contact_phone", "contact_phone", "institution", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"), index=True)
    name: Mapped[str] = mapped_column(String(40), info={"personal": None, "why": "not a person's: an office's name"})
    region: Mapped[str] = mapped_column(String(64))
    district: Mapped[str | None] = mapped_column(String(64), nullable=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True, info={
        "personal": None, "why": "not a person's: where an office is, for the engineer who installs its link"})
    contact_name: Mapped[str | None] = mapped_column(String(120), nullable=True, info=personal("name", why=CONTACT))
    contact_phone: Mapped[str | None] = mapped_column(String(20), nullable=True, info=personal("phone", why=CONTACT))
    contact_email: Mapped[str | None] = mapped_column(String(254), nullable=True, info=personal("email", why=CONTACT))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Onboarding(Versioned, Base):
    """One onboarding of a site, from request to decommissioning."""

    __tablename__ = "govnet_onboardings"
    __table_args__ = (
        UniqueConstraint("site_id", "open", name="uq_govnet_onboardings_open"),
        UniqueConstraint("provider", "circuit_id", "open", name="uq_govnet_onboardings_circuit"),
        Index("ix_govnet_onboardings_state", "state", "state_since"),
        # egactl find: a circuit id → its requests, newest first.
        Index("ix_govnet_onboardings_circuit", "circuit_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("govnet_sites.id"), index=True)
    open: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    state_since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    pool_id: Mapped[int] = mapped_column(ForeignKey("govnet_pools.id"))
    pop: Mapped[str] = mapped_column(String(32))
    prefix_length: Mapped[int] = mapped_column(Integer)
    bandwidth_bps: Mapped[int] = mapped_column(BigInteger)
    prefix: Mapped[str | None] = mapped_column(String(18), nullable=True)
    vlan: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    circuit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    committed_bps: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    link_test: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, info=personal(
        "email", why="the link test's measurements and the staff account that recorded them: accountability"))
    notes: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)
    requested_by: Mapped[str] = mapped_column(String(200), info=STAFF)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    provisioned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decommissioned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hold_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@unversioned("part of its onboarding: changed only with it, under the pool's allocation lock")
class Allocation(Base):
    """A prefix and a VLAN given to an onboarding; kept through the hold after offboarding.

    ``hold_until`` is NULL while the site uses them; once set, the resources
    return to the pool when that time has passed (the row is then deleted).
    """

    __tablename__ = "govnet_allocations"
    __table_args__ = (
        UniqueConstraint("start", name="uq_govnet_allocations_start"),
        UniqueConstraint("pop", "vlan", name="uq_govnet_allocations_vlan"),
        Index("ix_govnet_allocations_pool", "pool_id", "hold_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("govnet_pools.id"))
    onboarding_id: Mapped[int] = mapped_column(ForeignKey("govnet_onboardings.id"), unique=True)
    start: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(Integer)
    pop: Mapped[str] = mapped_column(String(32))
    vlan: Mapped[int] = mapped_column(Integer)
    hold_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


TABLES = [Pool.__table__, PoolVlans.__table__, FreeBlock.__table__, FreeVlans.__table__, Site.__table__, Onboarding.__table__,
          Allocation.__table__]
