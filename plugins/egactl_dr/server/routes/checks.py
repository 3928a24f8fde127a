"""/api/v1/dr/checks: the history of check runs, as the CLIs that ran them report.

The probes run where ``egactl dr check`` runs (that vantage point is the
point: can *this* network reach the DR site?), so the backend stores what the
CLI observed rather than probing itself. One POST is one run: a row for the
run, a row per system, and one audit entry for the run (not one per system —
a monitoring system checking every five minutes would drown the audit log).

The help desk may record its runs (``helpdesk_allowed``): a check result is an
append-only observation, tagged with who made it, and it changes nothing
anyone configured — while leaving it out would blank the history exactly when
the help desk is looking at an incident. Everyone may record results only for
systems they may read.

But the help desk's runs are *unverified*: anyone with a helpdesk token can
post any verdict, so they are stored with ``verified = false``, shown as such
(history, report), and never set a system's last check — they cannot clear
"never checked" or make a system compliant. Only a run by an operator or an
admin (``VERIFYING_ROLES``), or one the server makes itself, is verified.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.server import (ApiRoute, audit, backend, current_scope, db, etag, helpdesk_allowed, iso, page,
                                  principal)
from egactl_dr import rules
from egactl_dr.server.models import DrCheckResult, DrCheckRun, DrSystem
from egactl_dr.server.schemas import ResultPage, RunIn, RunOut, SystemResultIn
from egactl_dr.server.service import readable_system

router = APIRouter(route_class=ApiRoute, tags=["dr"])

VERIFYING_ROLES = frozenset({"admin", "operator", "system"})


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def problems_of(checks: list[dict[str, Any]]) -> list[str]:
    """"dr.tls: certificate expired 2 days ago", worst first: what the report lists."""
    bad = [c for c in checks if c.get("state") != "OK"]
    bad.sort(key=lambda c: -rules.SEVERITY.get(c.get("state", "UNKNOWN"), 2))
    return [f"{c['check']} {c['state']}: {c['reason']}" for c in bad]


@router.post("/checks", status_code=201, response_model=RunOut)
@helpdesk_allowed
def record_run(body: RunIn):
    p = principal()
    now = backend().now()
    systems: list[tuple[DrSystem, SystemResultIn]] = []
    for result in body.results:
        systems.append((readable_system(result.institution, result.name), result))
    # A run cut short by its deadline could not conclude, whatever it saw before (as --nagios says).
    status = "UNKNOWN" if body.deadline_exceeded else rules.worst([r.status for r in body.results])
    verified = p.role in VERIFYING_ROLES
    run = DrCheckRun(at=now, started_at=_utc(body.started_at), finished_at=_utc(body.finished_at), actor=p.subject,
                     role=p.role, request_id=current_scope().request_id, status=status,
                     deadline_exceeded=body.deadline_exceeded, systems=len(systems), verified=verified)
    session = db()
    session.add(run)
    session.flush()
    for system, result in systems:
        checks = [c.model_dump() for c in result.checks]
        session.add(DrCheckResult(run_id=run.id, system_id=system.id, institution=system.institution, at=now,
                                  checked_at=run.started_at, status=result.status, checks=checks))
        if not verified:
            if system.observed_at is None or now >= system.observed_at:
                etag.observe(system, observed_at=now, observed_status=result.status, observed_by=p.subject)
        elif system.last_check_at is None or now >= system.last_check_at:
            etag.observe(system, last_check_at=now, last_check_status=result.status,
                         last_check_problems=problems_of(checks))
    session.flush()
    institutions = sorted({s.institution for s, _ in systems})
    audit.record("record", "dr_check_run", run.id, institution=institutions[0] if len(institutions) == 1 else None,
                 after={"status": status, "systems": len(systems), "deadline_exceeded": body.deadline_exceeded,
                        "institutions": institutions, "verified": verified})
    return {"id": run.id, "at": now.isoformat(), "status": status, "systems": len(systems),
            "deadline_exceeded": body.deadline_exceeded, "actor": p.subject, "role": p.role, "verified": verified}


def serialize_result(r: DrCheckResult, run: DrCheckRun, system: str) -> dict[str, Any]:
    counts = {s: 0 for s in rules.STATES}
    for c in r.checks or []:
        counts[c.get("state", "UNKNOWN")] = counts.get(c.get("state", "UNKNOWN"), 0) + 1
    return {"id": r.id, "run_id": r.run_id, "system": system, "at": iso(r.at), "checked_at": iso(r.checked_at),
            "checked_by": run.actor, "role": run.role, "verified": bool(run.verified), "status": r.status, "counts": counts, "checks": r.checks}


@router.get("/systems/{institution}/{name}/checks", response_model=ResultPage)
def system_history(institution: str, name: str, cursor: str | None = None, limit: int | None = None,
                   since: dt.datetime | None = None, oldest_first: bool = False):
    """A system's check results, newest first (the trend reads back in time); ``oldest_first=true`` reverses it."""
    system = readable_system(institution, name)
    stmt = (select(DrCheckResult, DrCheckRun).join(DrCheckRun, DrCheckRun.id == DrCheckResult.run_id)
            .where(DrCheckResult.system_id == system.id))
    if since is not None:
        stmt = stmt.where(DrCheckResult.at >= _utc(since))
    return page(db(), stmt, DrCheckResult.id, cursor=cursor, limit=limit, order_by=DrCheckResult.at,
                oldest_first=oldest_first, serialize=lambda row: serialize_result(*row, system.ref))

