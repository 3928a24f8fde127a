"""/api/v1/ussd: the *152*NN# registry over HTTP.

Codes appear in paths as their two digits (``/codes/07``; ``7`` works too) and
in bodies and answers as ``*152*07#``. Every token may read the registry (the
codes are public: citizens dial them); operators change only their own
institutions' codes; the network provisioning status is e-GA's to record.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import or_, select

from egactl.plugin.server import (ApiRoute, AuditEntry, Institution, audit, db, etag, get_institution, invalid, lock,
                                  page, principal, require_institution, visible)
from egactl_ussd import lifecycle, registry, validation
from egactl_ussd.models import UssdCode, UssdQuota

router = APIRouter(route_class=ApiRoute, tags=["ussd"])

State = Literal[lifecycle.STATES]  # type: ignore[valid-type]
ProvisioningState = Literal[validation.PROVISIONING_STATES]  # type: ignore[valid-type]


def _field(name: str):
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if problem := validation.check_field(name, value):
            raise ValueError(problem)
        return value
    return field_validator(name)(check)


def _code(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return validation.two_digits(validation.parse_code(value))
    except validation.CodeError as exc:
        raise ValueError(str(exc)) from None


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if problem := validation.check_callback_url(value):
        raise ValueError(problem)
    return value


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

    _ref = _field("application_reference")
    _code = field_validator("code")(_code)


class AssignIn(BaseModel):
    institution: str
    service_name: str
    purpose: str
    callback_url: str
    code: str | None = Field(default=None, description="A given code (07, *152*07#…); omitted: the lowest free one")

    _name = _field("service_name")
    _purpose = _field("purpose")
    _url = field_validator("callback_url")(_url)
    _code = field_validator("code")(_code)


class ReasonIn(BaseModel):
    reason: str

    _reason = _field("reason")


class CodePatch(BaseModel):
    service_name: str | None = None
    purpose: str | None = None
    callback_url: str | None = None

    _name = _field("service_name")
    _purpose = _field("purpose")
    _url = field_validator("callback_url")(_url)


class NetworkIn(BaseModel):
    state: ProvisioningState
    note: str | None = None

    _note = _field("note")


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
    quota: int | None = Field(ge=0, le=validation.LAST, description="null: back to the default")
    reason: str

    _reason = _field("reason")


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


def _respond(row: UssdCode, status_code: int = 200, headers: dict[str, str] | None = None):
    return etag.respond(registry.serialize(row), row.version, status_code=status_code, headers=headers)


def _locked(code: str) -> UssdCode:
    """The code's row, read after taking the registry's lock (see registry.allocate), and
    held against the request's If-Match."""
    number = registry.parse(code)
    lock(db(), "ussd-allocation")
    return etag.guard(registry.get(number), f"code {validation.two_digits(number)}")


@router.get("/codes", response_model=CodePage)
def list_codes(state: State | None = None, institution: str | None = None, not_live: bool = False,
               cursor: str | None = None, limit: int | None = None):
    """Codes in number order; ``not_live``: held codes not yet live on every network."""
    at = registry.now()
    stmt = registry.list_statement(state=state, institution=institution, not_live=not_live)
    return page(db(), stmt, UssdCode.id, cursor=cursor, limit=limit, serialize=lambda r: registry.serialize(r, at))


@router.get("/summary", response_model=SummaryOut)
def summary():
    """Counts by state, and when the next quarantined code frees."""
    return registry.summary()


@router.get("/codes/{code}", response_model=CodeOut)
def show_code(code: str):
    return _respond(registry.get(registry.parse(code)))


@router.get("/codes/{code}/history", response_model=HistoryPage)
def code_history(code: str, cursor: str | None = None, limit: int | None = None):
    """Every change to the code, oldest first, from the audit log."""
    stmt = registry.history_statement(registry.parse(code))
    with_data = not principal().masks_personal_data

    def serialize(e: AuditEntry) -> dict[str, Any]:
        data = audit.serialize(e, with_data=with_data)
        data["from_state"] = (e.before or {}).get("state")
        data["to_state"] = (e.after or {}).get("state")
        return data

    return page(db(), stmt, AuditEntry.id, cursor=cursor, limit=limit, serialize=serialize)


@router.post("/reservations", status_code=201, response_model=CodeOut)
def reserve(body: ReserveIn):
    """Hold a code for an institution while its application is decided."""
    inst = require_institution(body.institution)
    number = registry.parse(body.code) if body.code else None
    row = registry.allocate("reserve", inst.code, number, {"application_reference": body.application_reference})
    return _respond(row, 201, {"Location": f"/api/v1/ussd/codes/{validation.two_digits(row.id)}"})


@router.post("/assignments", status_code=201, response_model=CodeOut)
def assign(body: AssignIn):
    """Give an institution a code (the lowest free one unless ``code`` is given)."""
    inst = require_institution(body.institution)
    number = registry.parse(body.code) if body.code else None
    fields = {"service_name": body.service_name, "purpose": body.purpose, "callback_url": body.callback_url}
    row = registry.allocate("assign", inst.code, number, fields)
    return _respond(row, 201, {"Location": f"/api/v1/ussd/codes/{validation.two_digits(row.id)}"})


def _transition(code: str, action: str, body: ReasonIn):
    row = registry.transition(_locked(code), action, reason=body.reason)
    return _respond(row)


@router.post("/codes/{code}/suspend", response_model=CodeOut)
def suspend(code: str, body: ReasonIn):
    """Take an assigned code out of service for a while (the gateway stops routing it)."""
    return _transition(code, "suspend", body)


@router.post("/codes/{code}/resume", response_model=CodeOut)
def resume(code: str, body: ReasonIn):
    return _transition(code, "resume", body)


@router.post("/codes/{code}/release", response_model=CodeOut)
def release(code: str, body: ReasonIn):
    """Give the code back; it ages in quarantine before anyone else can have it."""
    return _transition(code, "release", body)


@router.patch("/codes/{code}", response_model=CodeOut)
def update_code(code: str, body: CodePatch):
    row = _locked(code)
    changes = body.model_dump(exclude_unset=True)
    for name in ("service_name", "purpose", "callback_url"):
        if name in changes and changes[name] is None:
            changes.pop(name)
    return _respond(registry.update(row, changes))


@router.put("/codes/{code}/networks/{network}", response_model=CodeOut)
def set_network(code: str, network: str, body: NetworkIn):
    """Record the code's provisioning on one mobile network (admin)."""
    principal().require("admin")
    try:
        name = validation.parse_network(network)
    except ValueError as exc:
        raise invalid(str(exc), "network") from None
    row = registry.set_network(_locked(code), name, body.state, body.note)
    return _respond(row)


# -- quotas ----------------------------------------------------------------------------


@router.get("/quotas", response_model=QuotaPage)
def list_quotas(cursor: str | None = None, limit: int | None = None):
    """Institutions that hold a code or were granted a quota of their own, in the order they were added."""
    holders = select(UssdCode.institution).where(UssdCode.state.in_(registry.HELD), UssdCode.id != validation.GATEWAY)
    stmt = select(Institution).where(or_(Institution.code.in_(holders),
                                         Institution.code.in_(select(UssdQuota.institution))))
    return page(db(), visible(stmt, Institution.code), Institution.id, cursor=cursor, limit=limit,
                serialize=lambda inst: registry.serialize_quota(inst.code))


@router.get("/quotas/{institution}", response_model=QuotaOut)
def show_quota(institution: str):
    code = institution.upper()
    principal().check_read(code)
    return registry.serialize_quota(get_institution(code).code)


@router.put("/quotas/{institution}", response_model=QuotaOut)
def set_quota(institution: str, body: QuotaIn):
    """Grant an institution its own quota, or (``quota: null``) put it back on the default (admin)."""
    principal().require("admin")
    inst = get_institution(institution)
    lock(db(), "ussd-allocation")  # a quota changes between allocations, never during one
    return registry.set_quota(inst.code, body.quota, body.reason)
