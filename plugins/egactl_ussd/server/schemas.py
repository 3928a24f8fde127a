"""The ussd API's request and response bodies.

A request body's texts are checked by the same rules as the commands'
(``egactl_ussd.rules``), so a caller that bypasses egactl gets the same answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from egactl.plugin.server import rule_validator
from egactl_ussd import rules

State = Literal[rules.STATES]  # type: ignore[valid-type]
ProvisioningState = Literal[rules.PROVISIONING_STATES]  # type: ignore[valid-type]


class NetworkOut(BaseModel):
    network: str
    state: ProvisioningState
    note: str | None
    updated_at: str | None


class CodeOut(BaseModel):
    code: str = Field(description="Canonical form, e.g. *152*07#")
    number: str = Field(description="The two digits, as used in paths, e.g. 07")
    state: State = Field(description="A released code whose quarantine has ended is reported as available")
    institution: str | None
    application_reference: str | None
    service_name: str | None
    purpose: str | None
    callback_url: str | None
    reason: str | None = Field(description="Why the last suspend, resume or release happened")
    reserved_at: str | None
    assigned_at: str | None
    suspended_at: str | None
    released_at: str | None
    quarantine_until: str | None
    networks: list[NetworkOut]
    live: bool = Field(description="Assigned, and live on every network")
    version: int
    updated_at: str | None


class CodePage(BaseModel):
    items: list[CodeOut]
    next_cursor: str | None


class SummaryOut(BaseModel):
    total: int
    allocatable: int
    by_state: dict[str, int]
    available: int
    in_quarantine: int
    next_free_at: str | None
    quarantine_days: int


class ReserveIn(BaseModel):
    institution: str
    application_reference: str
    code: str | None = Field(default=None, description="A given code (07, *152*07#…); omitted: the lowest free one")

    _ref = rule_validator(rules.parse_application_reference, "application_reference")
    _code = rule_validator(rules.parse_code_text, "code")


class AssignIn(BaseModel):
    institution: str
    service_name: str
    purpose: str
    callback_url: str
    code: str | None = Field(default=None, description="A given code (07, *152*07#…); omitted: the lowest free one")

    _name = rule_validator(rules.parse_service_name, "service_name")
    _purpose = rule_validator(rules.parse_purpose, "purpose")
    _url = rule_validator(rules.parse_callback_url, "callback_url")
    _code = rule_validator(rules.parse_code_text, "code")


class ReasonIn(BaseModel):
    reason: str

    _reason = rule_validator(rules.parse_reason, "reason")


class CodePatch(BaseModel):
    service_name: str | None = None
    purpose: str | None = None
    callback_url: str | None = None

    _name = rule_validator(rules.parse_service_name, "service_name")
    _purpose = rule_validator(rules.parse_purpose, "purpose")
    _url = rule_validator(rules.parse_callback_url, "callback_url")


class NetworkIn(BaseModel):
    state: ProvisioningState
    note: str | None = None

    _note = rule_validator(rules.parse_note, "note")


class QuotaOut(BaseModel):
    institution: str
    quota: int = Field(description="How many codes it may hold (reserved, assigned or suspended)")
    default_quota: int = Field(description="The backend's default (setting ussd.quota)")
    granted: bool = Field(description="True when e-GA set this institution's quota; false: the default applies")
    held: int
    free: int = Field(description="How many more it may reserve or assign now")
    reason: str | None
    set_by: str | None
    set_at: str | None


class QuotaPage(BaseModel):
    items: list[QuotaOut]
    next_cursor: str | None


class QuotaIn(BaseModel):
    quota: int | None = Field(ge=0, le=rules.LAST, description="null: back to the default")
    reason: str

    _reason = rule_validator(rules.parse_reason, "reason")


class HistoryOut(BaseModel):
    id: int
    at: str
    actor: str
    role: str
    action: str
    institution: str | None
    reason: str | None
    request_id: str | None
    from_state: str | None = Field(description="The code's state before the change")
    to_state: str | None = Field(description="The code's state after it")
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class HistoryPage(BaseModel):
    items: list[HistoryOut]
    next_cursor: str | None
