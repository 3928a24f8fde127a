"""Request and response bodies of /api/v1/mail (the OpenAPI contract).

Validators call the shared rules in ``egactl_mail.validation``, so the backend
refuses what the commands refuse, with the same words.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from egactl.plugin.rules import check_institution_code, check_name
from egactl_mail import validation as v

Status = Literal["active", "suspended", "deleted", "purged"]


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _institution(value: str) -> str:
    value = value.strip().upper()
    if problem := check_institution_code(value):
        raise ValueError(problem)
    return value


def _employee(value: str) -> str:
    value = v.normalise_employee_number(value)
    if problem := v.check_employee_number(value):
        raise ValueError(problem)
    return value


def _name(what: str):
    def check(value: str) -> str:
        if problem := v.check_person_name(value, what):
            raise ValueError(problem)
        return " ".join(value.split())
    return check


def _plain_name(what: str):
    """The shared rule for names (no formula start, no control character); None passes."""
    def check(value: str | None) -> str | None:
        if value is not None and (problem := check_name(value, what)):
            raise ValueError(problem)
        return value
    return check


def _optional_text(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str):
        value = " ".join(value.split())
        if len(value) > 100:
            raise ValueError("longer than 100 characters")
    return value


def _quota(value: int | None) -> int | None:
    if value is not None and (problem := v.check_quota(value)):
        raise ValueError(problem)
    return value


def _domain(value: str | None) -> str | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    value = value.lower()
    if problem := v.check_domain(value):
        raise ValueError(problem)
    return value


def _address(value: str | None) -> str | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    value = v.normalise_address(value)
    if problem := v.check_address(value):
        raise ValueError(problem)
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

    _inst = field_validator("institution")(_institution)
    _emp = field_validator("employee_number")(_employee)
    _given = field_validator("given_name")(_name("given name"))
    _family = field_validator("family_name")(_name("family name"))
    _texts = field_validator("preferred_name", "title", "department", mode="before")(_optional_text)
    _preferred = field_validator("preferred_name")(_plain_name("preferred name"))
    _quota = field_validator("quota_mb")(_quota)
    _dom = field_validator("domain", mode="before")(_domain)
    _addr = field_validator("address", mode="before")(_address)


class MailboxPatch(BaseModel):
    given_name: str | None = None
    family_name: str | None = None
    title: str | None = None
    department: str | None = None
    quota_mb: int | None = None
    institution: str | None = Field(default=None, description="Move the mailbox (a transfer): new address on the new institution's primary domain; the old one stays as an alias.")

    _given = field_validator("given_name")(lambda x: None if x is None else _name("given name")(x))
    _family = field_validator("family_name")(lambda x: None if x is None else _name("family name")(x))
    _texts = field_validator("title", "department", mode="before")(_optional_text)
    _quota = field_validator("quota_mb")(_quota)
    _inst = field_validator("institution")(lambda x: None if x is None else _institution(x))


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


class BulkItem(PersonIn):
    line: int


class BulkIn(BaseModel):
    items: list[BulkItem] = Field(max_length=1000)
    institutions: list[str] = Field(default_factory=list, max_length=1000,
                                    description="Check these first: each exists, has a mail domain, and the caller may "
                                                "create mailboxes there (an import's preflight; send no items).")

    _insts = field_validator("institutions")(lambda xs: [_institution(x) for x in xs])


class BulkResult(BaseModel):
    line: int
    status: Literal["created", "exists", "failed"]
    id: str | None = None
    error: str | None = None


class BulkOut(BaseModel):
    results: list[BulkResult]


class DomainIn(BaseModel):
    domain: str
    institution: str
    naming_rule: Literal["given.family", "g.family", "family.given"] = "given.family"
    primary: bool = Field(default=False, description="New mailboxes get this domain (an institution's first domain is primary).")

    _dom = field_validator("domain", mode="before")(_domain)
    _inst = field_validator("institution")(_institution)


class DomainOut(BaseModel):
    domain: str
    institution: str
    naming_rule: str
    primary: bool
    created_at: str


class DomainPage(BaseModel):
    items: list[DomainOut]
    next_cursor: str | None


class AliasIn(BaseModel):
    address: str

    _addr = field_validator("address", mode="before")(_address)


class AliasOut(BaseModel):
    address: str
    mailbox: str
    institution: str
    created_at: str


class AliasPage(BaseModel):
    items: list[AliasOut]
    next_cursor: str | None


def _member(value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    value = f"{local}@{domain.lower()}"
    if problem := v.check_external_address(value):
        raise ValueError(problem)
    return value


class ListIn(BaseModel):
    address: str
    institution: str
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(default_factory=list, max_length=1000)

    _addr = field_validator("address", mode="before")(_address)
    _inst = field_validator("institution")(_institution)
    _name = field_validator("name")(lambda x: _plain_name("list name")(x.strip()))
    _members = field_validator("members")(lambda xs: [_member(x) for x in xs])


class MembersIn(BaseModel):
    members: list[str] = Field(min_length=1, max_length=1000)

    _members = field_validator("members")(lambda xs: [_member(x) for x in xs])


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

    _inst = field_validator("institution")(_institution)
    _emp = field_validator("employee_number")(_employee)
    _given = field_validator("given_name")(_name("given name"))
    _family = field_validator("family_name")(_name("family name"))
    _texts = field_validator("title", "department", mode="before")(_optional_text)


class ReconcileIn(BaseModel):
    roster: list[RosterRow] = Field(max_length=200_000)
    institution: str | None = Field(default=None, description="Reconcile only this institution.")
    apply: bool = False
    allow_mass_suspend: bool = False
    expect_digest: str | None = Field(default=None, description="Apply only if the plan is still the one with this digest (409 otherwise).")
    source: str | None = Field(default=None, max_length=200, description="The roster's file name, for the audit log.")

    _inst = field_validator("institution")(lambda x: None if x is None else _institution(x))


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
