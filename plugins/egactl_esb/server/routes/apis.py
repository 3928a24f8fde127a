"""/api/v1/esb/apis: the API codes of the bus: who provides each (its endpoint and format), who consumes it.

Admins register codes for any institution, operators for their own (as provider);
the help desk reads them all ("who serves this code?"). An institution sees the
codes it provides or consumes.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, get_institution, insert_unique, iso, page,
                                  principal, require_institution, same_or_conflict)
from egactl_esb.server.models import EsbApi
from egactl_esb.server.schemas import ApiIn, ApiOut, ApiPage

router = APIRouter(route_class=ApiRoute, tags=["esb"])


def serialize(row: EsbApi) -> dict:
    return {"code": row.code, "institution": row.institution, "endpoint": row.endpoint, "format": row.format,
            "consumers": list(row.consumers or []), "description": row.description,
            "created_at": iso(row.created_at), "created_by": row.created_by}


def _readable(row: EsbApi) -> bool:
    p = principal()
    return p.can_read(row.institution) or any(p.can_read(c) for c in row.consumers or [])


@router.get("/apis", response_model=ApiPage)
def list_apis(cursor: str | None = None, limit: int | None = None, institution: str | None = None):
    """The codes an institution provides or consumes (every code for admins and the help desk)."""
    wanted = None
    if institution:
        wanted = institution.strip().upper()
        principal().check_read(wanted)
    rows = [r for r in db().scalars(select(EsbApi).order_by(EsbApi.id)) if _readable(r)
            and (wanted is None or r.institution == wanted or wanted in (r.consumers or []))]
    # Consumers are a list in a JSON column: filtered here; the registry is small (hundreds of codes).
    ids = [r.id for r in rows]
    return page(db(), select(EsbApi).where(EsbApi.id.in_(ids)), EsbApi.id, cursor=cursor, limit=limit,
                serialize=serialize, oldest_first=True)


@router.get("/apis/{code}", response_model=ApiOut)
def show_api(code: str):
    row = db().scalar(select(EsbApi).where(EsbApi.code == code))
    if row is None or not _readable(row):
        raise Problem(404, f"API code {code} not found")
    return serialize(row)


@router.post("/apis", response_model=ApiOut, status_code=201, responses={200: {"description": "exists as asked"}})
def create_api(body: ApiIn):
    inst = require_institution(body.institution)
    consumers = sorted({c.strip().upper() for c in body.consumers})
    for c in consumers:
        get_institution(c)  # 404 for an unknown consumer
    existing = db().scalar(select(EsbApi).where(EsbApi.code == body.code))
    if existing is not None:
        from fastapi.responses import JSONResponse

        same_or_conflict(existing, {"institution": inst.code, "endpoint": body.endpoint, "format": body.format,
                                    "consumers": consumers}, what=f"API code {body.code}")
        return JSONResponse(serialize(existing), status_code=200)
    row = EsbApi(code=body.code, institution=inst.code, endpoint=body.endpoint, format=body.format,
                 consumers=consumers, description=body.description, created_at=backend().now(),
                 created_by=principal().subject)
    insert_unique(row, f"API code {body.code} already exists")
    data = serialize(row)
    audit.record("create", "esb_api", row.code, institution=inst.code, after=data)
    return data
