"""The ussd plugin's part of the reference backend: the registry's routes and
tables, and its one setting (how long a released code stays in quarantine)."""

from __future__ import annotations

from egactl.plugin import BackendPart
from egactl_ussd.models import TABLES
from egactl_ussd.routes import router

HELD_STATES = ("reserved", "assigned", "suspended")


def holdings(session, institution: str) -> dict[str, int]:
    """Codes reserved for, assigned to or suspended for the institution (a released
    code in quarantine is no longer its own). No foreign key guards these."""
    from sqlalchemy import func, select

    from egactl_ussd.models import UssdCode

    n = session.scalar(select(func.count()).select_from(UssdCode)
                       .where(UssdCode.institution == institution, UssdCode.state.in_(HELD_STATES)))
    return {"USSD codes": n}


part = BackendPart(
    router=router,
    tables=TABLES,
    holdings=holdings,
    settings={"quarantine_days": 90},
)
