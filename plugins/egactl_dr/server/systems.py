"""/api/v1/dr/systems: the inventory of systems and their DR sites.

Operators keep their own institutions' systems; the help desk and admins read
all of them. A system is named by its institution and name in the path
(``/systems/RITA/crvs``); updates and removals carry the ETag they read.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import or_, select

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, insert_unique, page, require_institution,
                                  visible)
from egactl_dr import validation
from egactl_dr.server.common import (approved_hosting, guarded_system, readable_system, rule, running_drills,
                                     serialize_one, serialize_system)
from egactl_dr.server.models import DrSystem

router = APIRouter(route_class=ApiRoute, tags=["dr"])

Criticality = Literal[validation.CRITICALITIES]  # type: ignore[valid-type]


class _SystemRules(BaseModel):
    _hosting = rule(validation.normalise_hosting, "hosting", "dr_hosting")
    _endpoints = rule(validation.normalise_endpoint, "primary_endpoint", "dr_endpoint")
    _backup_url = rule(validation.normalise_http_url, "backup_url")
    _fields = rule(validation.normalise_field_source, "version_from", "replicated_from", "backup_from")
    _thresholds = rule(validation.check_thresholds, "thresholds")
    _ca = rule(validation.check_ca_bundle, "ca_bundle")


class SystemIn(_SystemRules):
    institution: str = Field(description="Institution code, e.g. RITA")
    name: str = Field(description="The system's short name, unique in its institution, e.g. crvs")
    criticality: Criticality = "medium"
    hosting: str = Field(description="Hosting environment of the primary site, e.g. gdc-dodoma")
    dr_hosting: str | None = Field(default=None, description="Hosting environment of the DR site")
    primary_endpoint: str = Field(description="https://…/health, http://…, tls://host:port or host:port")
    dr_endpoint: str | None = Field(default=None, description="The DR site's endpoint; null: no DR site")
    version_from: str | None = Field(default=None, description="json:PATH or header:NAME in the health response")
    replicated_from: str | None = Field(default=None, description="Last-replicated time at the DR site: json:PATH or header:NAME")
    backup_from: str | None = Field(default=None, description="Last backup time: json:PATH or header:NAME")
    backup_url: str | None = Field(default=None, description="Where backup_from is read (default: the primary endpoint)")
    rpo_minutes: float = Field(gt=0, le=525600, description="Recovery point objective")
    rto_minutes: float = Field(gt=0, le=525600, description="Recovery time objective")
    thresholds: dict[str, Any] = Field(default_factory=dict, description="Overrides of the default thresholds")
    ca_bundle: str | None = Field(default=None, description="PEM certificates of a private CA the probes must trust")
    notes: str | None = Field(default=None, max_length=2000)

    _name = rule(validation.normalise_name, "name", allow_none=False)

    @model_validator(mode="after")
    def _code(self):
        self.institution = self.institution.strip().upper()
        return self


class SystemPatch(_SystemRules):
    criticality: Criticality | None = None
    hosting: str | None = None
    dr_hosting: str | None = None
    primary_endpoint: str | None = None
    dr_endpoint: str | None = None
    version_from: str | None = None
    replicated_from: str | None = None
    backup_from: str | None = None
    backup_url: str | None = None
    rpo_minutes: float | None = Field(default=None, gt=0, le=525600)
    rto_minutes: float | None = Field(default=None, gt=0, le=525600)
    thresholds: dict[str, Any] | None = None
    ca_bundle: str | None = None
    notes: str | None = Field(default=None, max_length=2000)


REQUIRED = ("criticality", "hosting", "primary_endpoint", "rpo_minutes", "rto_minutes", "thresholds")


class SystemOut(BaseModel):
    id: int
    system: str
    institution: str
    name: str
    criticality: str
    hosting: str
    hosting_approved: bool
    dr_hosting: str | None
    dr_hosting_approved: bool | None
    primary_endpoint: str
    dr_endpoint: str | None
    version_from: str | None
    replicated_from: str | None
    backup_from: str | None
    backup_url: str | None
    rpo_minutes: float
    rto_minutes: float
    thresholds: dict[str, Any]
    ca_bundle: str | None
    notes: str | None
    last_successful_drill_at: str | None
    days_since_successful_drill: int | None
    drill_running_since: str | None
    last_check_at: str | None
    last_check_status: str | None
    version: int
    created_at: str
    updated_at: str


class SystemPage(BaseModel):
    items: list[SystemOut]
    next_cursor: str | None


class HostingOut(BaseModel):
    approved: list[str]


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
        stmt = stmt.where(or_(DrSystem.name.like(like), DrSystem.hosting.ilike(like)))
    now, approved, running = backend().now(), approved_hosting(), running_drills()
    return page(db(), stmt, DrSystem.id, cursor=cursor, limit=limit,
                serialize=lambda s: serialize_system(s, now=now, approved=approved, running=running))


@router.post("/systems", status_code=201, response_model=SystemOut)
def create_system(body: SystemIn):
    require_institution(body.institution)
    now = backend().now()
    row = DrSystem(**body.model_dump(), version=1, created_at=now, updated_at=now)
    insert_unique(row, f"DR system {body.institution}/{body.name} already exists")
    out = serialize_one(row)
    audit.record("create", "dr_system", row.ref, institution=row.institution, after=_audit_view(out))
    return etag.respond(out, row.version, status_code=201, headers={"Location": f"/api/v1/dr/systems/{row.ref}"})


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
