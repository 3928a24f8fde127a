"""The ussd plugin's part of the reference backend: the registry's routes and
tables, and its one setting (how long a released code stays in quarantine)."""

from __future__ import annotations

from egactl.plugin import BackendPart
from egactl_ussd.models import TABLES
from egactl_ussd.routes import router

part = BackendPart(
    router=router,
    tables=TABLES,
    settings={"quarantine_days": 90},
)
