"""The mail domains the mail tests start from."""

from __future__ import annotations


def add_domains(backend) -> dict[str, str]:
    """RITA's and TRA's mail domains (given.family addresses), as an admin would create them."""
    from egactl_mail.server.models import MailDomain

    made = {"RITA": "rita.go.tz", "TRA": "tra.go.tz"}
    with backend.write_sessions() as s:
        for code, domain in made.items():
            s.add(MailDomain(domain=domain, institution=code, naming_rule="given.family", is_primary=True,
                             created_at=backend.now(), version=1))
        s.commit()
    return made
