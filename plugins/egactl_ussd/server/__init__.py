"""The ussd plugin's part of the reference backend: the registry's routes and
tables, and its settings: how long a released code stays in quarantine, and how
many codes one institution may hold unless e-GA grants it more (``quota``)."""

from __future__ import annotations

from egactl.plugin import BackendPart
from egactl_ussd.server.models import TABLES
from egactl_ussd.server.quotas import holdings
from egactl_ussd.server.routes import router

part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_ussd.server.migrations",
    holdings=holdings,
    settings={"quarantine_days": 90, "quota": 3},
)
