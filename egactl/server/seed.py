"""Sandbox seed data: real Tanzanian public institutions, so the sandbox is useful at once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from egactl.server.models import AuditEntry, Institution

INSTITUTIONS = [
    ("EGA", "e-Government Authority", "agency", "Dodoma", "info@ega.go.tz"),
    ("RITA", "Registration Insolvency and Trusteeship Agency", "agency", "Dar es Salaam", "info@rita.go.tz"),
    ("TRA", "Tanzania Revenue Authority", "agency", "Dar es Salaam", "info@tra.go.tz"),
    ("NIDA", "National Identification Authority", "agency", "Dar es Salaam", "info@nida.go.tz"),
    ("MOH", "Ministry of Health", "ministry", "Dodoma", "ps@afya.go.tz"),
    ("UDOM", "University of Dodoma", "other", "Dodoma", "vc@udom.ac.tz"),
    ("KINONDONI-MC", "Kinondoni Municipal Council", "LGA", "Dar es Salaam", "md@kinondonimc.go.tz"),
    ("ARUSHA-CC", "Arusha City Council", "LGA", "Arusha", "cd@arushacc.go.tz"),
]


def seed_core(session: Session, now: dt.datetime) -> None:
    for code, name, kind, region, email in INSTITUTIONS:
        session.add(Institution(code=code, name=name, kind=kind, region=region, contact_email=email,
                                version=1, created_at=now, updated_at=now))


def seed_sandbox(session: Session, now: dt.datetime) -> None:
    """The core's seed for a new sandbox, recorded in the audit log like any change, so that
    ``egactl audit list`` shows what the log holds from the first use on."""
    seed_core(session, now)
    for code, name, kind, region, email in INSTITUTIONS:
        session.add(AuditEntry(at=now, actor="sandbox", role="system", action="create", resource_type="institution",
                               resource_id=code, institution=code, reason="sandbox example data",
                               after={"code": code, "name": name, "kind": kind, "region": region,
                                      "contact_email": email, "version": 1}))
