"""/api/v1/dr/report: compliance across the estate, one row per system.

A system is compliant when it has a DR site, both sites are in approved
hosting environments, its latest check (recent enough) has nothing CRITICAL or
UNKNOWN — readiness that cannot be shown is not readiness — and a failover
drill passed within its drill period. WARNINGs are listed but do not make a
system non-compliant. Computed on the backend's clock, like drill ages.

"Latest check" means the latest *verified* one (by an operator or an admin).
A newer unverified observation (a help-desk run) is shown beside it
(``unverified_*``) and named in the issues, but never counts as a check.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.rules import time_for_people
from egactl.plugin.server import ApiRoute, backend, db, iso, page, visible
from egactl_dr import rules
from egactl_dr.server.models import DrSystem
from egactl_dr.server.schemas import ReportPage
from egactl_dr.server.service import PLUGIN, approved_hosting, days_since, is_approved

router = APIRouter(route_class=ApiRoute, tags=["dr"])


def row_for(s: DrSystem, *, now: dt.datetime, approved: list[str], stale_days: float) -> dict[str, Any]:
    issues: list[str] = []
    has_dr = s.dr_endpoint is not None
    if not has_dr:
        issues.append("no DR site")
    hosting_ok = bool(is_approved(s.hosting, approved))
    if not hosting_ok:
        issues.append(f"primary hosted in {s.hosting!r}, not an approved environment")
    dr_hosting_ok = is_approved(s.dr_hosting, approved)
    if has_dr and s.dr_hosting is None:
        issues.append("DR site hosting environment not recorded")
    elif has_dr and not dr_hosting_ok:
        issues.append(f"DR site hosted in {s.dr_hosting!r}, not an approved environment")
    problems = list(s.last_check_problems or [])
    failing = [p for p in problems if " CRITICAL: " in p or " UNKNOWN: " in p]
    newer_observation = s.observed_at is not None and (s.last_check_at is None or s.observed_at > s.last_check_at)
    if s.last_check_at is None:
        issues.append("never checked")
    else:
        if now - s.last_check_at > dt.timedelta(days=stale_days):
            issues.append(f"not checked for {(now - s.last_check_at).days} days")
        if failing:
            issues.append(f"{len(failing)} failing check(s) in the last run")
    if newer_observation:
        issues.append(f"unverified observation {s.observed_status} by {s.observed_by} at "
                      f"{time_for_people(s.observed_at)} (a help-desk check; an operator's check is needed)")
    limits = rules.effective_thresholds(s.thresholds)
    age = days_since(s.last_drill_passed_at, now)
    overdue = age is None or age > limits["drill_crit_days"]
    if age is None:
        issues.append("no successful drill on record")
    elif overdue:
        issues.append(f"drill overdue: last passed {age} days ago (due every {limits['drill_crit_days']} days)")
    return {"system": s.ref, "institution": s.institution, "name": s.name, "criticality": s.criticality,
            "compliant": not issues, "issues": issues, "has_dr_site": has_dr,
            "hosting": s.hosting, "hosting_approved": hosting_ok, "dr_hosting": s.dr_hosting,
            "dr_hosting_approved": dr_hosting_ok, "last_check_at": iso(s.last_check_at),
            "last_check_status": s.last_check_status,
            "unverified_at": iso(s.observed_at) if newer_observation else None,
            "unverified_status": s.observed_status if newer_observation else None,
            "unverified_by": s.observed_by if newer_observation else None, "failing_checks": problems,
            "last_successful_drill_at": iso(s.last_drill_passed_at), "days_since_successful_drill": age,
            "drill_overdue": overdue}


@router.get("/report", response_model=ReportPage)
def compliance_report(cursor: str | None = None, limit: int | None = None, institution: str | None = None):
    stmt = visible(select(DrSystem), DrSystem.institution, institution and institution.strip())
    now, approved = backend().now(), approved_hosting()
    stale = float(backend().setting(PLUGIN, "check_stale_days"))
    return page(db(), stmt, DrSystem.id, cursor=cursor, limit=limit,
                serialize=lambda s: row_for(s, now=now, approved=approved, stale_days=stale), oldest_first=True)
