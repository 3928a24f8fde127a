"""Sandbox examples: TRA's system consumes RITA-BIRTH-VERIFY, which RITA's system provides
(played by the sandbox itself, ``routes/sandbox.py``): see ``egactl_esb.sandbox``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from egactl.plugin.server import AuditEntry
from egactl_esb import rules, sandbox
from egactl_esb.server.models import EsbApi, EsbClient
from egactl_esb.server.service import hash_secret


def seed(session: Session, now: dt.datetime) -> None:
    for client_id, institution, secret, private in (
            (sandbox.CONSUMER_CLIENT_ID, sandbox.CONSUMER, sandbox.CONSUMER_SECRET, sandbox.CONSUMER_PRIVATE_KEY),
            (sandbox.PROVIDER_CLIENT_ID, sandbox.PROVIDER, sandbox.PROVIDER_SECRET, sandbox.PROVIDER_PRIVATE_KEY)):
        key = rules.import_private(private)
        session.add(EsbClient(client_id=client_id, institution=institution, secret_hash=hash_secret(secret),
                              public_key=rules.export_public(key), curve=rules.curve_name(key), created_at=now,
                              created_by="sandbox"))
    api = {"code": sandbox.API_CODE, "institution": sandbox.PROVIDER, "endpoint": sandbox.PROVIDER_URL,
           "format": "json", "consumers": [sandbox.CONSUMER],
           "description": "Verify a birth certificate (the sandbox's RITA system)"}
    session.add(EsbApi(**api, created_at=now, created_by="sandbox"))
    session.add(AuditEntry(at=now, actor="sandbox", role="system", action="create", resource_type="esb_api",
                           resource_id=sandbox.API_CODE, institution=sandbox.PROVIDER, request_id=None, reason=None,
                           before=None, after=api))
    session.flush()
