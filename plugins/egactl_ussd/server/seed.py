"""Sandbox examples: ``*152*99#`` assigned to e-GA's demo USSD application, which the
backend serves itself (``routes/demo.py``), live on every network, so that
``egactl ussd simulate 99 --input 1*2`` plays a whole session on a fresh sandbox
and reaches nothing outside this machine.

Its callback is the sandbox's own address (``http://sandbox``, where the API client
sends the in-process backend's requests); ``ussd simulate`` reaches an application
on the API's own address through the API client, hence through the same in-process
transport. The lowest codes stay free, so the usual walk-through (reserve, assign:
``*152*01#``) is unchanged.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from egactl.plugin.server import AuditEntry
from egactl_ussd import rules
from egactl_ussd.server.models import UssdCode, UssdProvisioning
from egactl_ussd.server.routes.demo import PATH

DEMO = 99
DEMO_INSTITUTION = "EGA"
DEMO_CALLBACK = f"http://sandbox/api/v1/ussd{PATH}"
"""The demo application as the sandbox's API client addresses it."""
DEMO_FIELDS = {"service_name": "e-GA Demo",
               "purpose": "A demo USSD application served by the sandbox, for egactl ussd simulate",
               "callback_url": DEMO_CALLBACK}


def seed(session: Session, now: dt.datetime) -> None:
    row = session.get(UssdCode, DEMO)  # every code exists from the moment the table does (models.py)
    if row is None or row.state != "available":
        return
    code = rules.canonical(DEMO)
    before = {"code": code, "number": rules.two_digits(DEMO), "state": "available"}
    row.state, row.institution, row.assigned_at, row.updated_at = "assigned", DEMO_INSTITUTION, now, now
    for name, value in DEMO_FIELDS.items():
        setattr(row, name, value)
    row.networks = [UssdProvisioning(network=n, position=i, state="live", updated_at=now)
                    for i, n in enumerate(rules.NETWORKS)]
    session.add(AuditEntry(at=now, actor="sandbox", role="system", action="assign", resource_type="ussd_code",
                           resource_id=code, institution=DEMO_INSTITUTION, request_id=None, reason=None,
                           before=before, after={**before, "state": "assigned", "institution": DEMO_INSTITUTION,
                                                 **DEMO_FIELDS}))
    session.flush()
