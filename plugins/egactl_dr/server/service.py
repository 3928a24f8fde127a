"""What the dr routes share: finding a system the caller may see, the approved
hosting list, serialising a system, and what an institution holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from egactl.plugin.rules import time_for_people
from egactl.plugin.server import Problem, backend, db, etag, iso, not_found, principal
from egactl_dr.server.models import DrDrill, DrSystem

PLUGIN = "dr"
CLOCK_SKEW = dt.timedelta(minutes=5)


def holdings(session, institution: str) -> dict[str, int]:
    """The institution's systems in the DR inventory (their drills and check history go with them)."""
    return {"DR systems": session.scalar(select(func.count()).select_from(DrSystem)
                                         .where(DrSystem.institution == institution))}


def approved_hosting() -> list[str]:
    """e-GA's approved hosting environments (setting ``dr.approved_hosting``, comma-separated)."""
    raw = backend().setting(PLUGIN, "approved_hosting") or ""
    return [h.strip() for h in str(raw).split(",") if h.strip()]


def is_approved(hosting: str | None, approved: list[str] | None = None) -> bool | None:
    if hosting is None:
        return None
    folded = {h.casefold() for h in (approved if approved is not None else approved_hosting())}
    return hosting.casefold() in folded


def get_system(institution: str, name: str) -> DrSystem:
    inst = institution.strip().upper()
    nm = name.strip().lower()
    row = db().scalar(select(DrSystem).where(DrSystem.institution == inst, DrSystem.name == nm))
    if row is None:
        raise not_found(f"DR system {inst}/{nm}")
    return row


def readable_system(institution: str, name: str) -> DrSystem:
    principal().check_read(institution.strip().upper())
    return get_system(institution, name)


def writable_system(institution: str, name: str) -> DrSystem:
    principal().check_write(institution.strip().upper())
    return get_system(institution, name)


def guarded_system(institution: str, name: str) -> DrSystem:
    """The system a change is about, locked for this request and held against its If-Match."""
    row = writable_system(institution, name)
    return etag.guard(row, f"DR system {row.ref}")


def not_in_future(when: dt.datetime, field: str) -> dt.datetime:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    if when > backend().now() + CLOCK_SKEW:
        raise Problem(422, f"{field} {time_for_people(when)} is in the future",
                      errors=[{"field": field, "message": "in the future"}])
    return when


def running_drills(system_ids: list[int] | None = None) -> dict[int, dt.datetime]:
    stmt = select(DrDrill.system_id, DrDrill.started_at).where(DrDrill.result == "running")
    if system_ids is not None:
        stmt = stmt.where(DrDrill.system_id.in_(system_ids))
    return dict(db().execute(stmt).all())


def days_since(when: dt.datetime | None, now: dt.datetime) -> int | None:
    if when is None:
        return None
    return max(0, (now - when).days)


def serialize_system(s: DrSystem, *, now: dt.datetime, approved: list[str],
                     running: dict[int, dt.datetime]) -> dict[str, Any]:
    """The inventory record. ``days_since_successful_drill`` is as of the backend's clock:
    drills are the backend's facts, so their age is too (the check and the report agree)."""
    return {
        "id": s.id, "system": s.ref, "institution": s.institution, "name": s.name,
        "criticality": s.criticality,
        "hosting": s.hosting, "hosting_approved": is_approved(s.hosting, approved),
        "dr_hosting": s.dr_hosting, "dr_hosting_approved": is_approved(s.dr_hosting, approved),
        "primary_endpoint": s.primary_endpoint, "dr_endpoint": s.dr_endpoint,
        "version_from": s.version_from, "replicated_from": s.replicated_from,
        "backup_from": s.backup_from, "backup_url": s.backup_url,
        "rpo_minutes": s.rpo_minutes, "rto_minutes": s.rto_minutes,
        "thresholds": dict(s.thresholds or {}),
        "ca_bundle": s.ca_bundle, "notes": s.notes,
        "last_successful_drill_at": iso(s.last_drill_passed_at),
        "days_since_successful_drill": days_since(s.last_drill_passed_at, now),
        "drill_running_since": iso(running.get(s.id)),
        "last_check_at": iso(s.last_check_at), "last_check_status": s.last_check_status,
        "version": s.version, "created_at": iso(s.created_at), "updated_at": iso(s.updated_at),
    }


def serialize_one(s: DrSystem) -> dict[str, Any]:
    return serialize_system(s, now=backend().now(), approved=approved_hosting(), running=running_drills([s.id]))
