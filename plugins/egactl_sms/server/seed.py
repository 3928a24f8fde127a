"""Sandbox example data: an approved sender ID for each seeded institution, so
`egactl sms send` works on a fresh machine."""

from __future__ import annotations

from sqlalchemy import select

from egactl.plugin.server import Institution
from egactl_sms import rules
from egactl_sms.server.models import Sender


def seed(session, now) -> None:
    for code in session.scalars(select(Institution.code).order_by(Institution.code)):
        name = code.replace("-", "")[:rules.SENDER_MAX]
        if rules.check_sender_id(name) is None:
            session.add(Sender(institution=code, name=name, name_key=rules.sender_key(name), status="approved",
                               purpose="sandbox example", requested_by="sandbox", requested_at=now,
                               decided_by="sandbox", decided_at=now, decision_note="sandbox example", version=1))
