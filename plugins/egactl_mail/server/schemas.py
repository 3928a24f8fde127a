"""Request and response bodies of /api/v1/mail (the OpenAPI contract).

Validators apply the shared rules of ``egactl_mail.rules`` (``rule_validator``),
so the server refuses what the commands refuse, with the same words.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from egactl.plugin.server import bulk_request, bulk_response, rule_validator
from egactl_mail import rules

Status = Literal["active", "suspended", "deleted", "purged"]


def _blank_to_none(value: Any) -> Any:
    """An optional field sent as "" is a field not sent."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class PersonIn(BaseModel):
    """A mailbox to create for a person."""

    institution: str
    employee_number: str
    given_name: str
    family_name: str
    preferred_name: str | None = Field(default=None, description="The given name the person goes by; used in the address instead of the first given name.")
    title: str | None = None
    department: str | None = None
    quota_mb: int | None = Field(default=None, description="Default: the backend's mail.default_quota_mb.")
    domain: str | None = Field(default=None, description="One of the institution's domains; default its primary domain.")
    address: str | None = Field(default=None, description="Use this address instead of generating one; 409 if taken.")

    _inst = rule_validator(rules.parse_institution, "institution")
    _emp = rule_validator(rules.parse_employee_number, "employee_number")
    _given = rule_validator(rules.parse_given_name, "given_name")
    _family = rule_validator(rules.parse_family_name, "family_name")
    _blank = field_validator("domain", "address", mode="before")(_blank_to_none)
    _texts = rule_validator(rules.parse_text, "preferred_name", "title", "department")
    _preferred = rule_validator(rules.check_preferred_name, "preferred_name")
    _quota = rule_validator(rules.check_quota, "quota_mb")
    _dom = rule_validator(rules.parse_domain, "domain")
    _addr = rule_validator(rules.parse_address, "address")


class MailboxPatch(BaseModel):
    given_name: str | None = None
    family_name: str | None = None
    title: str | None = None
    department: str | None = None
    quota_mb: int | None = None
    institution: str | None = Field(default=None, description="Move the mailbox (a transfer): new address on the new institution's primary domain; the old one stays as an alias.")

    _given = rule_validator(rules.parse_given_name, "given_name")
    _family = rule_validator(rules.parse_family_name, "family_name")
    _texts = rule_validator(rules.parse_text, "title", "department")
    _quota = rule_validator(rules.check_quota, "quota_mb")
    _inst = rule_validator(rules.parse_institution, "institution")


class MailboxOut(BaseModel):
    id: int
    address: str
    institution: str
    domain: str
    employee_number: str | None
    given_name: str | None
    family_name: str | None
    preferred_name: str | None
    display_name: str | None
    title: str | None
    department: str | None
    status: Status
    login: bool
    delivery: Literal["delivered", "bounced"]
    quota_mb: int
    used_mb: int
    usage_percent: float
    must_change_password: bool
    password_set_at: str | None
    suspended_by: str | None
    retain_until: str | None
    status_changed_at: str
    version: int
    created_at: str
    updated_at: str
    aliases: list[str] | None = None


class MailboxPage(BaseModel):
    items: list[MailboxOut]
    next_cursor: str | None


class TransitionIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500, description="Kept in the audit log.")


class PasswordOut(BaseModel):
    address: str
    temporary_password: str = Field(description="Shown once; only a hash is stored.")
    must_change_at_first_login: bool
    password_set_at: str


class BulkIn(bulk_request(PersonIn, name="MailboxBulkRows")):  # type: ignore[misc]
    institutions: list[str] = Field(default_factory=list, max_length=1000,
                                    description="Check these first: each exists, has a mail domain, and the caller may "
                                                "create mailboxes there (an import's preflight; send no items).")

    _insts = rule_validator(lambda codes: [rules.parse_institution(code) for code in codes], "institutions")


BulkOut = bulk_response(("created", "exists", "failed"), name="MailboxBulkOut")


class DomainIn(BaseModel):
    domain: str
    institution: str
    naming_rule: Literal["given.family", "g.family", "family.given"] = "given.family"
    primary: bool = Field(default=False, description="New mailboxes get this domain (an institution's first domain is primary).")

    _dom = rule_validator(rules.parse_domain, "domain")
    _inst = rule_validator(rules.parse_institution, "institution")


class DomainPatch(BaseModel):
    naming_rule: Literal["given.family", "g.family", "family.given"] | None = Field(
        default=None, description="How new addresses in this domain are made; existing addresses are not renamed.")
    primary: Literal[True] | None = Field(
        default=None, description="Make this the institution's primary domain (new mailboxes get it); the "
                                  "institution's other domains stop being primary. To move the role, make another "
                                  "domain primary.")


class DomainOut(BaseModel):
    domain: str
    institution: str
    naming_rule: str
    primary: bool
    version: int
    created_at: str


class DomainPage(BaseModel):
    items: list[DomainOut]
    next_cursor: str | None


class AliasIn(BaseModel):
    address: str

    _addr = rule_validator(rules.parse_address, "address")


class AliasOut(BaseModel):
    address: str
    mailbox: str
    institution: str
    created_at: str


class AliasPage(BaseModel):
    items: list[AliasOut]
    next_cursor: str | None


def _parse_members(values: list[str]) -> list[str]:
    return [rules.parse_member(value) for value in values]


class ListIn(BaseModel):
    address: str
    institution: str
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(default_factory=list, max_length=1000)

    _addr = rule_validator(rules.parse_address, "address")
    _inst = rule_validator(rules.parse_institution, "institution")
    _name = rule_validator(rules.check_list_name, "name")
    _members = rule_validator(_parse_members, "members")


class MembersIn(BaseModel):
    members: list[str] = Field(min_length=1, max_length=1000)

    _members = rule_validator(_parse_members, "members")


class MemberOut(BaseModel):
    address: str
    kind: Literal["mailbox", "list", "external"]
    status: str | None = None


class ListOut(BaseModel):
    id: int
    address: str
    institution: str
    name: str
    members: list[MemberOut]
    member_count: int
    version: int
    created_at: str
    updated_at: str


class ListDeleted(ListOut):
    member_of: list[str] = Field(description="The lists it was a member of (it is no longer).")


class ListPage(BaseModel):
    items: list[ListOut]
    next_cursor: str | None


class RosterRow(BaseModel):
    line: int | None = None
    employee_number: str
    institution: str
    given_name: str
    family_name: str
    department: str | None = None
    title: str | None = None

    _inst = rule_validator(rules.parse_institution, "institution")
    _emp = rule_validator(rules.parse_employee_number, "employee_number")
    _given = rule_validator(rules.parse_given_name, "given_name")
    _family = rule_validator(rules.parse_family_name, "family_name")
    _texts = rule_validator(rules.parse_text, "title", "department")


class ReconcileIn(BaseModel):
    roster: list[RosterRow] = Field(max_length=200_000)
    institution: str | None = Field(default=None, description="Reconcile only this institution.")
    apply: bool = False
    allow_mass_suspend: bool = False
    expect_digest: str | None = Field(default=None, description="Apply only if the plan is still the one with this digest (409 otherwise).")
    source: str | None = Field(default=None, max_length=200, description="The roster's file name, for the audit log.")

    _inst = rule_validator(rules.parse_institution, "institution")


class PlanAction(BaseModel):
    action: Literal["create", "suspend", "update", "restore", "skip"]
    employee_number: str
    institution: str
    name: str | None
    address: str | None
    line: int | None
    changes: dict[str, list[Any]] | None = None
    reason: str | None = None


class Brake(BaseModel):
    active: int
    suspensions: int
    limit: int
    tripped: bool
    overridden: bool


class PlanOut(BaseModel):
    institutions: list[str]
    roster_rows: int
    counts: dict[str, int]
    actions: list[PlanAction]
    brake: Brake
    digest: str
    applied: bool
