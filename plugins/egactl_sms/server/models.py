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

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from egactl.plugin import personal
from egactl.plugin.server import Base, UTCDateTime, Versioned, unversioned

STAFF = personal("email", why="the staff account that acted: accountability")
NOT_A_PERSONS_NAME = {"personal": None, "why": "not a person's: the name of a sender ID or a contact group"}
NOT_A_PERSONS_TEXT = {"personal": None, "why": "not a person's: an institution's own words about its service"}
DELIVERY_REASON = {"personal": None, "why": "not a person's: why delivery failed, in a gateway's words"}
CANCEL_REASON = personal("email", why="why a message was not sent: a gateway's words, or the staff account that "
                                      "cancelled it (accountability)")
UNEXPIRED = "recipient < '~'"
"""A number not yet pseudonymised (E.164 starts with +, a pseudonym with ~): the retention
indexes hold only such rows, so each retention run reads what is left to do and nothing else."""


class Sender(Versioned, Base):
    """A sender ID (what the phone shows as "from"), owned by one institution."""

    __tablename__ = "sms_senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"), index=True)
    name: Mapped[str] = mapped_column(String(11), info=NOT_A_PERSONS_NAME)
    name_key: Mapped[str] = mapped_column(String(11), unique=True, info=NOT_A_PERSONS_NAME)
    status: Mapped[str] = mapped_column(String(10))  # rules.SENDER_STATES: pending | approved | rejected | withdrawn
    purpose: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)
    requested_by: Mapped[str] = mapped_column(String(200), info=STAFF)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True, info=STAFF)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)


class Group(Versioned, Base):
    """An institution's contact group."""

    __tablename__ = "sms_groups"
    __table_args__ = (UniqueConstraint("institution", "name", name="uq_sms_groups_institution_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"))
    name: Mapped[str] = mapped_column(String(64), info=NOT_A_PERSONS_NAME)
    description: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)
    created_by: Mapped[str] = mapped_column(String(200), info=STAFF)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("part of its group: changed only after guarding the group")
class GroupMember(Base):
    __tablename__ = "sms_group_members"
    __table_args__ = (UniqueConstraint("group_id", "phone", name="uq_sms_group_members_group_phone"),
                      Index("ix_sms_group_members_phone", "phone"))  # egactl find, privacy report/erase

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("sms_groups.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16), info=personal("phone", why="to send the group's messages"))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True,
                                             info=personal("name", why="to address the member"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("derived from its member's name: written and deleted with it (egactl_sms.server.names)")
class MemberNameToken(Base):
    """One word of a group member's name (``egactl.plugin.rules.name_tokens``), for finding
    members by name: each query word is a prefix range of ``token``, the members found for
    each word intersected (``egactl_sms.server.names.matching``). ``position`` keeps a word
    that occurs twice (``Juma Juma``) twice."""

    __tablename__ = "sms_member_name_tokens"
    __table_args__ = (Index("ix_sms_member_name_tokens_token_member", "token", "member_id"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("sms_group_members.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(100).with_variant(String(100, collation="C"), "postgresql"),
                                       info=personal("name", why="to find the member by name"))


@unversioned("created or deleted, never changed; a delete locks the row first (etag.lock)")
class OptOut(Base):
    """A number that asked an institution to send it nothing more."""

    __tablename__ = "sms_optouts"
    __table_args__ = (UniqueConstraint("institution", "phone", name="uq_sms_optouts_institution_phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"))
    phone: Mapped[str] = mapped_column(String(16), index=True,
                                       info=personal("phone", why="to send the number nothing more, as it asked"))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True,
                                               info=personal("text", why="the citizen's own words, for the record"))
    created_by: Mapped[str] = mapped_column(String(200), info=STAFF)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@unversioned("totals grow by concurrent chunks of one send (atomic increments); state is the worker's")
class Batch(Base):
    """One send: a quick send, a group send or a bulk campaign, and its totals."""

    __tablename__ = "sms_batches"
    __table_args__ = (
        UniqueConstraint("institution", "client_ref", name="uq_sms_batches_client_ref"),
        # retention: the batches whose text is still kept, oldest first
        Index("ix_sms_batches_kept_text_created_id", "created_at", "id",
              sqlite_where=text("text <> ''"), postgresql_where=text("text <> ''")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(ForeignKey("core_institutions.code"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # quick | group | bulk
    sender: Mapped[str] = mapped_column(String(11))
    text: Mapped[str] = mapped_column(Text, info=personal("text", why="what was sent: the message, or the bulk "
                                                                      "template"))  # '' once past retention
    group_name: Mapped[str | None] = mapped_column(String(64), nullable=True, info=NOT_A_PERSONS_NAME)
    source: Mapped[str | None] = mapped_column(String(255), nullable=True)
    client_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    normalize: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_quiet_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deliver_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    price_per_segment: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[str] = mapped_column(String(200), info=STAFF)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    messages: Mapped[int] = mapped_column(Integer, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(200), nullable=True, info=STAFF)


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
        # retention: the messages whose number is still kept, by when they were due to go
        Index("ix_sms_messages_unexpired_deliver_after_id", "deliver_after", "id",
              sqlite_where=text(UNEXPIRED), postgresql_where=text(UNEXPIRED)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("sms_batches.id"))
    institution: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(16), info=personal("phone", why="to deliver the message"))
    body: Mapped[str] = mapped_column(Text, info=personal("text", why="what was sent"))  # '' once pseudonymised
    encoding: Mapped[str] = mapped_column(String(5))
    segments: Mapped[int] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True, info=CANCEL_REASON)
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
    reason_key: Mapped[str] = mapped_column(String(32), primary_key=True, info={  # a digest of the reason
        "personal": None, "why": "not a person's: a digest of a delivery failure's reason"})
    reason: Mapped[str | None] = mapped_column(Text, nullable=True, info=DELIVERY_REASON)
    messages: Mapped[int] = mapped_column(Integer, default=0)


@unversioned("changed only under its row lock (SELECT … FOR UPDATE), by egactl_sms.server.rate")
class RateWindow(Base):
    """The delivery rate's current window, shared by every server on the database (see ``rate``)."""

    __tablename__ = "sms_rate_windows"

    name: Mapped[str] = mapped_column(String(32), primary_key=True, info={
        "personal": None, "why": "not a person's: the name of a delivery rate"})
    second: Mapped[int] = mapped_column(BigInteger)  # the database clock's whole second
    used: Mapped[int] = mapped_column(Integer)  # recipients granted in it


@unversioned("append-only")
class OutboxEntry(Base):
    """The sandbox's "sent" folder: what the outbox driver would have handed to a gateway."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_sms_outbox_message"),
        Index("ix_sms_outbox_recipient", "recipient"),  # privacy report/erase
        Index("ix_sms_outbox_unexpired_sent_id", "sent_at", "id",
              sqlite_where=text(UNEXPIRED), postgresql_where=text(UNEXPIRED)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int] = mapped_column(Integer)
    institution: Mapped[str] = mapped_column(String(32), index=True)
    sender: Mapped[str] = mapped_column(String(11))
    recipient: Mapped[str] = mapped_column(String(16), info=personal("phone", why="what the gateway would have got"))
    body: Mapped[str] = mapped_column(Text, info=personal("text", why="what the gateway would have got"))
    encoding: Mapped[str] = mapped_column(String(5))
    segments: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


TABLES = [t.__table__ for t in (Sender, Group, GroupMember, MemberNameToken, OptOut, Batch, SendGuard, Message, BatchState, BatchReason,
                                 RateWindow, OutboxEntry)]

