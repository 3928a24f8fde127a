"""/api/v1/dr/systems: the inventory of systems and their DR sites.

Operators keep their own institutions' systems; the help desk and admins read
all of them. A system is named by its institution and name in the path
(``/systems/RITA/crvs``); updates and removals carry the ETag they read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import or_, select

from egactl.plugin.rules import name_matches, name_tokens
from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, insert_unique, page, require_institution,
                                  same_or_conflict, visible)
from egactl_dr.server.models import DrSystem
from egactl_dr.server.schemas import Criticality, HostingOut, SystemIn, SystemOut, SystemPage, SystemPatch
from egactl_dr.server.service import (approved_hosting, guarded_system, readable_system, running_drills, serialize_one,
                                      serialize_system)

router = APIRouter(route_class=ApiRoute, tags=["dr"])



REQUIRED = ("criticality", "hosting", "primary_endpoint", "rpo_minutes", "rto_minutes", "thresholds")


def _audit_view(data: dict[str, Any]) -> dict[str, Any]:
    """The audit log keeps what changed, not the whole CA bundle."""
    view = {k: v for k, v in data.items() if k not in ("days_since_successful_drill", "drill_running_since")}
    if view.get("ca_bundle"):
        view["ca_bundle"] = f"({view['ca_bundle'].count('BEGIN CERTIFICATE')} certificate(s))"
    return view


@router.get("/hosting", response_model=HostingOut)
def list_hosting():
    """The approved government hosting environments (a backend setting)."""
    return {"approved": approved_hosting()}


@router.get("/systems", response_model=SystemPage)
def list_systems(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                 criticality: Criticality | None = None, q: str | None = None):
    stmt = visible(select(DrSystem), DrSystem.institution, institution and institution.strip())
    if criticality:
        stmt = stmt.where(DrSystem.criticality == criticality)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(DrSystem.name.like(like), DrSystem.hosting.ilike(like), DrSystem.id.in_(named(stmt, q))))
    now, approved, running = backend().now(), approved_hosting(), running_drills()
    return page(db(), stmt, DrSystem.id, cursor=cursor, limit=limit,
                serialize=lambda s: serialize_system(s, now=now, approved=approved, running=running), oldest_first=True)


def named(stmt: Any, q: str) -> list[int]:
    """The ids of the systems of ``stmt`` whose name the words of ``q`` start, in any order, case,
    diacritics or apostrophes: ``egactl find``'s one name matching (``name_matches``).

    The inventory is a few hundred systems: reading their ids and names once costs less
    than a token index would save, and matching in Python is exactly the rule (a LIKE per
    word cannot ignore diacritics). The page itself stays a keyset range in SQL."""
    if not name_tokens(q):
        return []
    rows = db().execute(stmt.with_only_columns(DrSystem.id, DrSystem.name))
    return [id_ for id_, name in rows if name_matches(q, name)]


def _existing(institution: str, name: str) -> DrSystem | None:
    return db().scalar(select(DrSystem).where(DrSystem.institution == institution, DrSystem.name == name))


@router.post("/systems", status_code=201, response_model=SystemOut,
             responses={200: {"model": SystemOut, "description": "It exists already, exactly as asked: nothing "
                                                                 "changed (re-running a create is safe)"}})
def create_system(body: SystemIn):
    """Register a system: 201. The same again is 200 with the system as it is, changing
    nothing (a field left out asks for nothing); the name taken with other values is 409
    naming the fields that differ (``same_or_conflict``, the create rule of every route)."""
    require_institution(body.institution)
    ref = f"{body.institution}/{body.name}"
    existing = _existing(body.institution, body.name)
    if existing is None:
        now = backend().now()
        row = DrSystem(**body.model_dump(), version=1, created_at=now, updated_at=now)
        try:
            insert_unique(row, f"DR system {ref} already exists")
        except Problem:  # registered by a concurrent request since our SELECT
            existing = _existing(body.institution, body.name)
            if existing is None:
                raise
        else:
            out = serialize_one(row)
            audit.record("create", "dr_system", row.ref, institution=row.institution, after=_audit_view(out))
            return etag.respond(out, row.version, status_code=201, headers={"Location": f"/api/v1/dr/systems/{row.ref}"})
    asked = body.model_dump(exclude={"institution", "name"}, exclude_unset=True)
    same_or_conflict(existing, asked, what=f"DR system {ref}")
    return etag.respond(serialize_one(existing), existing.version, status_code=200,
                        headers={"Location": f"/api/v1/dr/systems/{existing.ref}"})


@router.get("/systems/{institution}/{name}", response_model=SystemOut)
def show_system(institution: str, name: str):
    row = readable_system(institution, name)
    return etag.respond(serialize_one(row), row.version)


@router.patch("/systems/{institution}/{name}", response_model=SystemOut)
def update_system(institution: str, name: str, body: SystemPatch):
    row = guarded_system(institution, name)
    before = serialize_one(row)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field in REQUIRED:
            raise Problem(422, f"{field} cannot be empty", errors=[{"field": field, "message": "required"}])
    changes = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if changes:
        for field, value in changes.items():
            setattr(row, field, value)
        row.updated_at = backend().now()
        db().flush()
    out = serialize_one(row)
    if changes:
        audit.record("update", "dr_system", row.ref, institution=row.institution,
                     before=_audit_view({k: before[k] for k in changes}), after=_audit_view({k: out[k] for k in changes}))
    return etag.respond(out, row.version)


@router.delete("/systems/{institution}/{name}", response_model=SystemOut)
def remove_system(institution: str, name: str):
    """Remove a system with its drills and check history.

    The row is locked first: of concurrent removals one deletes it (and writes
    the audit entry); the others find it gone (404) and write nothing."""
    row = guarded_system(institution, name)
    before = serialize_one(row)
    db().delete(row)
    db().flush()
    audit.record("delete", "dr_system", before["system"], institution=before["institution"], before=_audit_view(before))
    return before
