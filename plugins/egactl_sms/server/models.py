"""The sms tables.

Messages carry their own copy of what delivery needs (recipient, rendered
text, encoding, segments, when they may go) so that the worker reads one
table; ``uq_sms_messages_batch_recipient`` is what makes "each recipient once
per batch" true whatever the client does (duplicates across chunks, retries,
resumed runs), and ``uq_sms_outbox_message`` makes the sandbox outbox record a
message at most once. ``uq_sms_send_guards`` is what makes "the same campaign is
not sent twice" true whatever the clients do: one row per institution and
identity of a send (what it sends), naming the batch that sent it. Senders, groups, opt-outs and batches refer to their
institution, so an institution with SMS history cannot be deleted from under it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from egactl.plugin.server import Base, UTCDateTime, Versioned, unversioned


class Sender(Versioned, Base):
    """A sender ID (what the phone shows as "from"), owned by one institution."""

    __tablename__ = "sms_senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"), index=True)
    name: Mapped[str] = mapped_column(String(11))
    name_key: Mapped[str] = mapped_column(String(11), unique=True)
    status: Mapped[str] = mapped_column(String(10))  # rules.SENDER_STATES: pending | approved | rejected | withdrawn
    purpose: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Group(Versioned, Base):
    """An institution's contact group."""

    __tablename__ = "sms_groups"
    __table_args__ = (UniqueConstraint("institution", "name", name="uq_sms_groups_institution_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("part of its group: changed only after guarding the group")
class GroupMember(Base):
    __tablename__ = "sms_group_members"
    __table_args__ = (UniqueConstraint("group_id", "phone", name="uq_sms_group_members_group_phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("sms_groups.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("created or deleted, never changed; a delete locks the row first (etag.lock)")
class OptOut(Base):
    """A number that asked an institution to send it nothing more."""

    __tablename__ = "sms_optouts"
    __table_args__ = (UniqueConstraint("institution", "phone", name="uq_sms_optouts_institution_phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("totals grow by concurrent chunks of one send (atomic increments); state is the worker's")
class Batch(Base):
    """One send: a quick send, a group send or a bulk campaign, and its totals."""

    __tablename__ = "sms_batches"
    __table_args__ = (UniqueConstraint("institution", "client_ref", name="uq_sms_batches_client_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # quick | group | bulk
    sender: Mapped[str] = mapped_column(String(11))
    text: Mapped[str] = mapped_column(Text)  # the message, or the bulk template
    group_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str | None] = mapped_column(String(255), nullable=True)
    client_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    normalize: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_quiet_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deliver_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    price_per_segment: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    messages: Mapped[int] = mapped_column(Integer, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


@unversioned("claimed and taken over only by one INSERT … ON CONFLICT DO UPDATE … WHERE, never read-then-written")
class SendGuard(Base):
    """The latest batch that sent a given campaign or group message.

    ``identity`` is a digest of what the send sends (for bulk: sender,
    template, file content, schedule; for a group: group, text, sender). A
    second identical send is refused unless asked for (``again``), or, for a
    group, unless the earlier one is older than the window. Claimed with one
    ``INSERT … ON CONFLICT DO UPDATE … WHERE`` so that of two identical sends
    started at once exactly one wins.
    """

    __tablename__ = "sms_send_guards"
    __table_args__ = (UniqueConstraint("institution", "identity", name="uq_sms_send_guards"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"))
    identity: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int] = mapped_column(ForeignKey("sms_batches.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("owned by the delivery worker, which claims rows before changing them")
class Message(Base):
    """One SMS to one number: queued → submitting → submitted → delivered, or failed,
    rejected, expired, cancelled (with a reason)."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        UniqueConstraint("batch_id", "recipient", name="uq_sms_messages_batch_recipient"),
        Index("ix_sms_messages_due", "state", "deliver_after", "id"),
        # `sms list` pages newest first (created_at, id): each filter followed by that order
        Index("ix_sms_messages_created_id", "created_at", "id"),
        Index("ix_sms_messages_institution_created_id", "institution", "created_at", "id"),
        Index("ix_sms_messages_batch_created_id", "batch_id", "created_at", "id"),
        Index("ix_sms_messages_batch_state_created_id", "batch_id", "state", "created_at", "id"),
        Index("ix_sms_messages_recipient_created_id", "recipient", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("sms_batches.id"))
    institution: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(5))
    segments: Mapped[int] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    quiet_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    deliver_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    gateway_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)


@unversioned("counters: changed only by atomic increments, written last in each transaction (see lifecycle)")
class BatchState(Base):
    """How many messages of a batch are in a state: what ``sms report`` reads instead of the messages."""

    __tablename__ = "sms_batch_states"

    batch_id: Mapped[int] = mapped_column(ForeignKey("sms_batches.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)


@unversioned("counters: changed only by atomic increments, written last in each transaction (see lifecycle)")
class BatchReason(Base):
    """How many messages of a batch failed (failed, rejected, expired) for one reason."""

    __tablename__ = "sms_batch_reasons"

    batch_id: Mapped[int] = mapped_column(ForeignKey("sms_batches.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), primary_key=True)
    reason_key: Mapped[str] = mapped_column(String(32), primary_key=True)  # a digest of the reason
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)


@unversioned("changed only under its row lock (SELECT … FOR UPDATE), by egactl_sms.server.rate")
class RateWindow(Base):
    """The delivery rate's current window, shared by every server on the database (see ``rate``)."""

    __tablename__ = "sms_rate_windows"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    second: Mapped[int] = mapped_column(BigInteger)  # the database clock's whole second
    used: Mapped[int] = mapped_column(Integer)  # recipients granted in it


@unversioned("append-only")
class OutboxEntry(Base):
    """The sandbox's "sent" folder: what the outbox driver would have handed to a gateway."""

    __tablename__ = "sms_outbox"
    __table_args__ = (UniqueConstraint("message_id", name="uq_sms_outbox_message"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int] = mapped_column(Integer)
    institution: Mapped[str] = mapped_column(String(32), index=True)
    sender: Mapped[str] = mapped_column(String(11))
    recipient: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(5))
    segments: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


TABLES = [t.__table__ for t in (Sender, Group, GroupMember, OptOut, Batch, SendGuard, Message, BatchState, BatchReason,
                                 RateWindow, OutboxEntry)]

