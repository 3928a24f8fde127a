"""The mail service's part of the reference backend."""

from __future__ import annotations

from egactl.plugin import BackendPart
from egactl_mail.server import find, privacy, routes, seed, service, workers
from egactl_mail.server.models import TABLES

part = BackendPart(
    router=routes.build(),
    tables=TABLES,
    migrations="egactl_mail.server.migrations",
    holdings=service.holdings,
    find=find.find,
    privacy=privacy.PRIVACY,
    seed=seed.seed,
    workers=workers.WORKERS,
    settings={
        "retention_days": 90,          # a deleted mailbox's address is kept (not reusable) this long
        "default_quota_mb": 2048,
        "mass_suspend_percent": 5.0,   # reconcile's safety brake: at most this share of active mailboxes…
        "mass_suspend_max": 50,        # …and never more than this many, without --allow-mass-suspend
    },
)
