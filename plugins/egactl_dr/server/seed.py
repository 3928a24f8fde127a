"""Sandbox examples: three systems that show the report's range (a ready one, one
never drilled, one outside approved hosting without a DR site). Their hosts are
under the reserved ``.example`` domain, so a sandbox `dr check` probes nothing real:
the sandbox itself plays their sites (``egactl_dr.sandbox_sites``), behind a
private CA whose certificate each system keeps as its CA bundle."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from egactl_dr.sandbox_sites import CA_PEM
from egactl_dr.server.models import DrDrill, DrSystem

HEALTH = {"version_from": "json:version", "replicated_from": "json:replication.last_replicated_at",
          "backup_from": "json:backup.last_success"}


def seed(session: Session, now: dt.datetime) -> None:
    systems = [
        DrSystem(institution="RITA", name="crvs", criticality="critical", hosting="gdc-dodoma", dr_hosting="gdc-dar",
                 primary_endpoint="https://crvs.rita.example/health", dr_endpoint="https://crvs-dr.rita.example/health",
                 rpo_minutes=15, rto_minutes=240, thresholds={}, **HEALTH),
        DrSystem(institution="TRA", name="idras", criticality="high", hosting="gdc-dar", dr_hosting="gdc-dodoma",
                 primary_endpoint="https://idras.tra.example/health", dr_endpoint="https://idras-dr.tra.example/health",
                 rpo_minutes=30, rto_minutes=480, thresholds={"cert_warn_days": 45}, **HEALTH),
        DrSystem(institution="MOH", name="dhis2", criticality="medium", hosting="moh-server-room",
                 primary_endpoint="https://dhis2.moh.example/api/system/ping", rpo_minutes=1440, rto_minutes=2880,
                 thresholds={}),
    ]
    for s in systems:
        s.version, s.created_at, s.updated_at = 1, now, now
        s.ca_bundle = CA_PEM
        session.add(s)
    session.flush()
    crvs = systems[0]
    started = now - dt.timedelta(days=120)
    crvs.last_drill_passed_at = started
    session.add(DrDrill(system_id=crvs.id, institution="RITA", system_name="crvs", result="passed", started_at=started,
                        restored_at=started + dt.timedelta(minutes=95), finished_at=started + dt.timedelta(minutes=120),
                        measured_rto_minutes=95, data_loss_minutes=4, rto_target_minutes=240, rpo_target_minutes=15,
                        failure_reasons=[], notes="Annual failover to the Dar es Salaam site", started_by="sandbox",
                        finished_by="sandbox"))
