"""/api/v1/ussd/quotas: how many codes each institution may hold (e-GA sets them)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import or_, select

from egactl.plugin.server import ApiRoute, Institution, db, get_institution, lock, page, principal, visible
from egactl_ussd import rules
from egactl_ussd.server import quotas
from egactl_ussd.server.models import UssdCode, UssdQuota
from egactl_ussd.server.schemas import QuotaIn, QuotaOut, QuotaPage

router = APIRouter(route_class=ApiRoute)


@router.get("/quotas", response_model=QuotaPage)
def list_quotas(cursor: str | None = None, limit: int | None = None):
    """Institutions that hold a code or were granted a quota of their own, in the order they were added."""
    holders = select(UssdCode.institution).where(UssdCode.state.in_(rules.HELD), UssdCode.id != rules.GATEWAY)
    stmt = select(Institution).where(or_(Institution.code.in_(holders),
                                         Institution.code.in_(select(UssdQuota.institution))))
    return page(db(), visible(stmt, Institution.code), Institution.id, cursor=cursor, limit=limit,
                serialize=lambda inst: quotas.serialize_quota(inst.code), oldest_first=True)


@router.get("/quotas/{institution}", response_model=QuotaOut)
def show_quota(institution: str):
    code = institution.upper()
    principal().check_read(code)
    return quotas.serialize_quota(get_institution(code).code)


@router.put("/quotas/{institution}", response_model=QuotaOut)
def set_quota(institution: str, body: QuotaIn):
    """Grant an institution its own quota, or (``quota: null``) put it back on the default (admin)."""
    principal().require("admin")
    inst = get_institution(institution)
    lock(db(), "ussd-allocation")  # a quota changes between allocations, never during one
    return quotas.set_quota(inst.code, body.quota, body.reason)
