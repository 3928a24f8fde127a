"""Fixtures of the mail tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def mail_domains(backend):
    """RITA's and TRA's mail domains (given.family addresses), as an admin would create them."""
    from egactl_mail.server.models import MailDomain

    with backend.write_sessions() as s:
        for code, domain in (("RITA", "rita.go.tz"), ("TRA", "tra.go.tz")):
            s.add(MailDomain(domain=domain, institution=code, naming_rule="given.family", is_primary=True,
                             created_at=backend.now(), version=1))
        s.commit()
    return {"RITA": "rita.go.tz", "TRA": "tra.go.tz"}
