"""The ussd plugin's part of the reference backend: the registry's routes and
tables, and its settings: how long a released code stays in quarantine, and how
many codes one institution may hold unless e-GA grants it more (``quota``); and the
sandbox's example: ``*152*99#``, e-GA's demo USSD application (``seed.py``)."""

from __future__ import annotations

from egactl.plugin import BackendPart
from egactl_ussd.server.find import find
from egactl_ussd.server.models import TABLES
from egactl_ussd.server.privacy import PRIVACY
from egactl_ussd.server.quotas import holdings
from egactl_ussd.server.routes import router
from egactl_ussd.server.seed import seed

part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_ussd.server.migrations",
    holdings=holdings,
    seed=seed,
    find=find,
    privacy=PRIVACY,
    settings={"quarantine_days": 90, "quota": 3},
)
