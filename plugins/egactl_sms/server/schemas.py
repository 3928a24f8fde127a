"""The sms request bodies, and every response as the caller may see it (the help
desk sees states and times, never a citizen's number in full, name or message)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from egactl.plugin.rules import check_name
from egactl.plugin.server import bulk_request, bulk_response, iso, mask_name, mask_phone, principal, rule_validator
from egactl_sms import rules
from egactl_sms.server.models import Batch, Group, GroupMember, Message, OptOut, OutboxEntry, Sender

MAX_CHUNK = 5000
"""Recipients (or members) per bulk request at the most."""

# -- requests -----------------------------------------------------------------------------


class SenderIn(BaseModel):
    institution: str
    name: str
    purpose: str | None = Field(default=None, max_length=500)

    _name = rule_validator(rules.sender_id, "name")


class Decision(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class Withdrawal(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class GroupIn(BaseModel):
    institution: str
    name: str
    description: str | None = Field(default=None, max_length=500)

    _name = rule_validator(rules.group_name, "name")


def check_member_name(value: str) -> str | None:
    """A member's name (surrounding spaces aside) by the SDK's name rule."""
    return check_name(value.strip(), "name")


class MemberIn(BaseModel):
    phone: str
    name: str | None = Field(default=None, max_length=200)

    _name = rule_validator(check_member_name, "name")


class MembersIn(BaseModel):
    members: list[MemberIn] = Field(min_length=1, max_length=MAX_CHUNK)


class RemoveIn(BaseModel):
    phones: list[str] = Field(min_length=1, max_length=MAX_CHUNK)


BulkMembersIn = bulk_request(MemberIn, name="SmsMembersBulkIn", max_items=MAX_CHUNK)
BulkMembersOut = bulk_response(("added", "exists", "failed"), name="SmsMembersBulkOut")


class OptOutIn(BaseModel):
    institution: str
    phone: str
    reason: str | None = Field(default=None, max_length=500)


class SendIn(BaseModel):
    institution: str
    text: str = Field(max_length=5000)
    to: list[str] | None = Field(default=None, max_length=rules.MAX_QUICK_RECIPIENTS)
    group: str | None = None
    sender: str | None = None
    at: dt.datetime | None = None
    allow_quiet_hours: bool = False
    normalize: bool = False
    again: bool = Field(default=False, description="Send even if the same group was sent the same text from the "
                                                   "same sender in the last 24 hours.")
    dry_run: bool = False


class BatchIn(BaseModel):
    institution: str
    template: str = Field(max_length=5000)
    sender: str | None = None
    at: dt.datetime | None = None
    allow_quiet_hours: bool = False
    normalize: bool = False
    source: str | None = Field(default=None, max_length=255)
    client_ref: str | None = Field(default=None, max_length=100)
    digest: str | None = Field(default=None, pattern="^[0-9a-f]{64}$",
                               description="SHA-256 of the recipient file's content. With it, a batch that sends "
                                           "what an earlier one sent (same sender, template, file and schedule) "
                                           "is refused with 409 unless `again` is true.")
    again: bool = Field(default=False, description="Open the batch even if an identical one was sent before.")
    replaces: str | None = Field(default=None, max_length=100,
                                 description="client_ref of an interrupted batch this one restarts: its messages "
                                             "not yet handed to a gateway are cancelled, in the same transaction.")
    dry_run: bool = False


class RecipientIn(BaseModel):
    to: str
    fields: dict[str, str] = Field(default_factory=dict)


RecipientsIn = bulk_request(RecipientIn, name="SmsRecipientsIn", max_items=MAX_CHUNK)
RecipientsOut = bulk_response(("queued", "duplicate", "opted_out", "failed"), name="SmsRecipientsOut")


class CancelIn(BaseModel):
    dry_run: bool = False


MessageState = Literal[rules.STATES]  # type: ignore[valid-type]

# -- responses ----------------------------------------------------------------------------


def masked() -> bool:
    return principal().masks_personal_data


def phone_out(number: str | None) -> str | None:
    return mask_phone(number) if masked() else number


def name_out(name: str | None) -> str | None:
    return mask_name(name) if masked() else name


def text_out(text: str | None) -> str | None:
    """The help desk sees states and times, never what was written to a citizen."""
    return None if masked() else text


def sender_out(s: Sender) -> dict[str, Any]:
    return {"name": s.name, "institution": s.institution, "status": s.status, "purpose": s.purpose,
            "requested_by": s.requested_by, "requested_at": iso(s.requested_at), "decided_by": s.decided_by,
            "decided_at": iso(s.decided_at), "decision_note": s.decision_note, "version": s.version}


def group_out(g: Group, members: int) -> dict[str, Any]:
    return {"name": g.name, "institution": g.institution, "description": g.description,
            "members": members, "created_by": g.created_by,
            "created_at": iso(g.created_at), "updated_at": iso(g.updated_at), "version": g.version}


def member_out(m: GroupMember) -> dict[str, Any]:
    return {"phone": phone_out(m.phone), "name": name_out(m.name), "added_at": iso(m.added_at)}


def optout_out(o: OptOut) -> dict[str, Any]:
    # the reason is the citizen's own words ("STOP, I am not Juma"): not for the help desk
    return {"id": o.id, "phone": phone_out(o.phone), "institution": o.institution, "reason": text_out(o.reason),
            "created_by": o.created_by, "created_at": iso(o.created_at)}


def batch_out(b: Batch) -> dict[str, Any]:
    return {
        "id": b.id, "kind": b.kind, "institution": b.institution, "sender": b.sender,
        "text": text_out(b.text), "group": b.group_name, "source": b.source,
        "normalize": b.normalize, "allow_quiet_hours": b.allow_quiet_hours,
        "scheduled_at": iso(b.scheduled_at), "deliver_after": iso(b.deliver_after),
        "created_by": b.created_by, "created_at": iso(b.created_at),
        "messages": b.messages, "segments": b.segments,
        "skipped": {"duplicate": b.duplicates, "opted_out": b.opted_out, "invalid": b.invalid},
        "price_per_segment": b.price_per_segment, "currency": b.currency,
        "estimated_cost": round(b.segments * b.price_per_segment, 2),
        "cancelled_at": iso(b.cancelled_at), "cancelled_by": b.cancelled_by,
    }


def message_out(m: Message, sender: str | None = None) -> dict[str, Any]:
    return {
        "id": m.id, "batch": m.batch_id, "institution": m.institution, "to": phone_out(m.recipient),
        "sender": sender, "state": m.state, "reason": m.reason, "text": text_out(m.body),
        "encoding": m.encoding, "segments": m.segments, "line": m.line,
        "deliver_after": iso(m.deliver_after), "created_at": iso(m.created_at),
        "submitted_at": iso(m.submitted_at), "delivered_at": iso(m.delivered_at),
        "attempts": m.attempts, "gateway_ref": m.gateway_ref,
    }


def outbox_out(o: OutboxEntry) -> dict[str, Any]:
    return {"id": o.id, "message": o.message_id, "batch": o.batch_id, "institution": o.institution,
            "sender": o.sender, "to": phone_out(o.recipient), "text": text_out(o.body), "encoding": o.encoding,
            "segments": o.segments, "sent_at": iso(o.sent_at)}
