"""/api/v1/dr/…/drills: failover drills, started and finished.

A drill measures what the targets promise: the RTO as the time from the start
of the drill until service was restored at the DR site, the RPO as the data
that was lost. Pass or fail is decided here, against the targets the system
has at the moment the drill finishes (and those targets are kept on the drill,
so a later change of target does not rewrite history).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.rules import time_for_people
from egactl.plugin.server import ApiRoute, Problem, audit, backend, db, etag, insert_unique, iso, page, principal, visible
from egactl_dr.rules import format_minutes
from egactl_dr.server.models import DrDrill
from egactl_dr.server.schemas import DrillFinish, DrillOut, DrillPage, DrillStart
from egactl_dr.server.service import guarded_system, not_in_future

router = APIRouter(route_class=ApiRoute, tags=["dr"])


def serialize(d: DrDrill) -> dict[str, Any]:
    return {"id": d.id, "system": f"{d.institution}/{d.system_name}", "institution": d.institution,
            "name": d.system_name, "result": d.result, "started_at": iso(d.started_at),
            "restored_at": iso(d.restored_at), "finished_at": iso(d.finished_at),
            "measured_rto_minutes": d.measured_rto_minutes, "data_loss_minutes": d.data_loss_minutes,
            "rto_target_minutes": d.rto_target_minutes, "rpo_target_minutes": d.rpo_target_minutes,
            "failure_reasons": list(d.failure_reasons or []), "notes": d.notes,
            "started_by": d.started_by, "finished_by": d.finished_by}


def judge(*, failed: bool, rto: float | None, loss: float | None, rto_target: float, rpo_target: float) -> list[str]:
    """Why a drill failed; an empty list means it passed."""
    reasons = []
    if failed:
        reasons.append("the failover did not complete")
    if rto is not None and rto > rto_target:
        reasons.append(f"service restored after {format_minutes(rto)}, beyond the RTO of {format_minutes(rto_target)}")
    if loss is not None and loss > rpo_target:
        reasons.append(f"{format_minutes(loss)} of data lost, beyond the RPO of {format_minutes(rpo_target)}")
    return reasons


@router.post("/systems/{institution}/{name}/drills", status_code=201, response_model=DrillOut)
def start_drill(institution: str, name: str, body: DrillStart):
    system = guarded_system(institution, name)
    now = backend().now()
    started = not_in_future(body.started_at, "started_at") if body.started_at else now
    row = DrDrill(system_id=system.id, institution=system.institution, system_name=system.name, result="running",
                  started_at=started, rto_target_minutes=system.rto_minutes, rpo_target_minutes=system.rpo_minutes,
                  failure_reasons=[], notes=body.notes, started_by=principal().subject)
    # The system's lock (guarded_system) makes starts take turns, so the running drill read
    # here is the one the insert would clash with; the unique index stays the judge.
    running = db().scalar(select(DrDrill.started_at).where(DrDrill.system_id == system.id, DrDrill.result == "running"))
    since = f" since {time_for_people(running)}" if running else ""
    insert_unique(row, f"a drill of {system.ref} is already running{since}; finish it first")
    out = serialize(row)
    audit.record("drill-start", "dr_system", system.ref, institution=system.institution, after=out)
    return out


@router.post("/systems/{institution}/{name}/drills/finish", response_model=DrillOut)
def finish_drill(institution: str, name: str, body: DrillFinish):
    # Drills are part of their system: its lock makes concurrent finishes take turns,
    # so the second one finds no drill running (409) instead of overwriting the first.
    system = guarded_system(institution, name)
    row = db().scalar(select(DrDrill).where(DrDrill.system_id == system.id, DrDrill.result == "running")
                      .execution_options(populate_existing=True))
    if row is None:
        raise Problem(409, f"no drill of {system.ref} is running; start one first")
    now = backend().now()
    restored = not_in_future(body.restored_at, "restored_at") if body.restored_at else (None if body.failed else now)
    if restored is not None and restored < row.started_at:
        raise Problem(422, f"restored_at {time_for_people(restored)} is before the drill started "
                           f"({time_for_people(row.started_at)})",
                      errors=[{"field": "restored_at", "message": "before the start"}])
    if not body.failed and body.data_loss_minutes is None:
        raise Problem(422, "data_loss_minutes is required to judge the RPO (0 if nothing was lost)",
                      errors=[{"field": "data_loss_minutes", "message": "required unless failed"}])
    before = serialize(row)
    rto = (restored - row.started_at).total_seconds() / 60 if restored else None
    row.rto_target_minutes, row.rpo_target_minutes = system.rto_minutes, system.rpo_minutes
    reasons = judge(failed=body.failed, rto=rto, loss=body.data_loss_minutes,
                    rto_target=row.rto_target_minutes, rpo_target=row.rpo_target_minutes)
    row.restored_at = restored
    row.measured_rto_minutes = round(rto, 2) if rto is not None else None
    row.data_loss_minutes = body.data_loss_minutes
    row.finished_at = now
    row.finished_by = principal().subject
    row.failure_reasons = reasons
    row.result = "failed" if reasons else "passed"
    if body.notes:
        row.notes = f"{row.notes}\n{body.notes}" if row.notes else body.notes
    if row.result == "passed" and (system.last_drill_passed_at is None or row.started_at > system.last_drill_passed_at):
        etag.observe(system, last_drill_passed_at=row.started_at)
    db().flush()
    out = serialize(row)
    audit.record("drill-finish", "dr_system", system.ref, institution=system.institution, before=before, after=out)
    return out


@router.get("/drills", response_model=DrillPage)
def list_drills(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                name: str | None = None, result: Literal["running", "passed", "failed"] | None = None,
                oldest_first: bool = False):
    """Drills, newest first (by when they started); ``oldest_first=true`` reverses it."""
    stmt = visible(select(DrDrill), DrDrill.institution, institution and institution.strip())
    if name:
        stmt = stmt.where(DrDrill.system_name == name.strip().lower())
    if result:
        stmt = stmt.where(DrDrill.result == result)
    return page(db(), stmt, DrDrill.id, cursor=cursor, limit=limit, serialize=serialize,
                order_by=DrDrill.started_at, oldest_first=oldest_first)

