"""The ussd plugin's part of the reference backend: the registry's routes and
tables, and its settings: how long a released code stays in quarantine, and how
many codes one institution may hold unless e-GA grants it more (``quota``)."""

from __future__ import annotations

from egactl.plugin import BackendPart
from egactl_ussd.models import TABLES
from egactl_ussd.registry import HELD
from egactl_ussd.routes import router


def holdings(session, institution: str) -> dict[str, int]:
    """Codes reserved for, assigned to or suspended for the institution (a released
    code in quarantine is no longer its own). No foreign key guards these."""
    from sqlalchemy import func, select

    from egactl_ussd.models import UssdCode

    n = session.scalar(select(func.count()).select_from(UssdCode)
                       .where(UssdCode.institution == institution, UssdCode.state.in_(HELD)))
    return {"USSD codes": n}


part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_ussd.server.migrations",
    holdings=holdings,
    settings={"quarantine_days": 90, "quota": 3},
)
