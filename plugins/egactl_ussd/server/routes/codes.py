"""/api/v1/ussd/codes, /summary, /reservations and /assignments: the codes, their
allocation, their lifecycle and their provisioning on the mobile networks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from egactl.plugin.rules import RuleError
from egactl.plugin.server import (ApiRoute, AuditEntry, audit, db, etag, invalid, lock, page, principal,
                                  require_institution)
from egactl_ussd import rules
from egactl_ussd.server import service
from egactl_ussd.server.models import UssdCode
from egactl_ussd.server.schemas import (AssignIn, CodeOut, CodePage, CodePatch, HistoryPage, NetworkIn, ReasonIn,
                                        ReserveIn, State, SummaryOut)

router = APIRouter(route_class=ApiRoute)

def _respond(row: UssdCode, status_code: int = 200, headers: dict[str, str] | None = None):
    return etag.respond(service.serialize(row), row.version, status_code=status_code, headers=headers)


def _created(row: UssdCode):
    return _respond(row, 201, {"Location": f"/api/v1/ussd/codes/{rules.two_digits(row.id)}"})


def _locked(code: str) -> UssdCode:
    """The code's row, read after taking the registry's lock (see service.allocate), and
    held against the request's If-Match."""
    number = service.parse(code)
    lock(db(), "ussd-allocation")
    return etag.guard(service.get(number), f"code {rules.two_digits(number)}")


@router.get("/codes", response_model=CodePage)
def list_codes(state: State | None = None, institution: str | None = None, not_live: bool = False,
               cursor: str | None = None, limit: int | None = None):
    """Codes in number order; ``not_live``: held codes not yet live on every network."""
    at = service.now()
    stmt = service.list_statement(state=state, institution=institution, not_live=not_live)
    return page(db(), stmt, UssdCode.id, cursor=cursor, limit=limit, serialize=lambda r: service.serialize(r, at), oldest_first=True)


@router.get("/summary", response_model=SummaryOut)
def summary():
    """Counts by state, and when the next quarantined code frees."""
    return service.summary()


@router.get("/codes/{code}", response_model=CodeOut)
def show_code(code: str):
    return _respond(service.get(service.parse(code)))


@router.get("/codes/{code}/history", response_model=HistoryPage)
def code_history(code: str, oldest_first: bool = False, cursor: str | None = None, limit: int | None = None):
    """Every change to the code, from the audit log: newest first, or ``oldest_first``."""
    stmt = service.history_statement(service.parse(code))
    with_data = not principal().masks_personal_data

    def serialize(e: AuditEntry) -> dict[str, Any]:
        data = audit.serialize(e, with_data=with_data)
        data["from_state"] = (e.before or {}).get("state")
        data["to_state"] = (e.after or {}).get("state")
        return data

    return page(db(), stmt, AuditEntry.id, cursor=cursor, limit=limit, serialize=serialize,
                order_by=AuditEntry.at, oldest_first=oldest_first)


@router.post("/reservations", status_code=201, response_model=CodeOut)
def reserve(body: ReserveIn):
    """Hold a code for an institution while its application is decided."""
    inst = require_institution(body.institution)
    number = service.parse(body.code) if body.code else None
    row = service.allocate("reserve", inst.code, number, {"application_reference": body.application_reference})
    return _created(row)


@router.post("/assignments", status_code=201, response_model=CodeOut)
def assign(body: AssignIn):
    """Give an institution a code (the lowest free one unless ``code`` is given)."""
    inst = require_institution(body.institution)
    number = service.parse(body.code) if body.code else None
    fields = {"service_name": body.service_name, "purpose": body.purpose, "callback_url": body.callback_url}
    row = service.allocate("assign", inst.code, number, fields)
    return _created(row)


def _transition(code: str, action: str, body: ReasonIn):
    row = service.transition(_locked(code), action, reason=body.reason)
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
    return _respond(service.update(row, changes))


@router.put("/codes/{code}/networks/{network}", response_model=CodeOut)
def set_network(code: str, network: str, body: NetworkIn):
    """Record the code's provisioning on one mobile network (admin)."""
    principal().require("admin")
    try:
        name = rules.parse_network(network)
    except RuleError as exc:
        raise invalid(str(exc), "network") from None
    row = service.set_network(_locked(code), name, body.state, body.note)
    return _respond(row)
