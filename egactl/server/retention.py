"""The retention worker: personal data past its period becomes pseudonymous.

Each plugin declares its classes of personal data (``egactl.plugin.Retention``)
with a default period; the server may set another with
``EGACTL_PRIVACY_<PLUGIN>_<NAME>_DAYS``. Every run asks each class to expire
at most :data:`BATCH` rows older than its cutoff, in a transaction of its own,
and records what it did in the audit log (counts only, never a personal value).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any, Iterator

from egactl.plugin import Retention, Worker

log = logging.getLogger("egactl.server")

BATCH = 500
"""Rows per class and run: a run stays short, and the next one goes on."""


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


def warn_of_former_settings(backend: Any) -> None:
    """A period set under its former name (``Retention.formerly``) is named at start, once."""
    list(classes(backend))


def classes(backend: Any) -> Iterator[tuple[str, Retention, int]]:
    """(plugin, class, period in days) for every mounted part, the server's settings applied."""
    for name, part in sorted(backend.parts.items()):
        if part.privacy is None:
            continue
        for r in part.privacy.retention:
            configured = backend.setting("privacy", f"{name}_{r.name}_days")
            if configured in (None, "") and r.formerly and os.environ.get(r.formerly):
                configured = os.environ[r.formerly]
                _warn_once(f"{r.formerly} is the former name of EGACTL_PRIVACY_{name.upper()}_{r.name.upper()}_DAYS; "
                           "it is still honoured, but set the new name")
            try:
                days = int(configured) if configured not in (None, "") else r.days
            except (TypeError, ValueError):
                log.warning("EGACTL_PRIVACY_%s_%s_DAYS is not a number of days; using %d",
                            name.upper(), r.name.upper(), r.days)
                days = r.days
            yield name, r, max(days, 0)


def expire_due(backend: Any) -> int:
    """One bounded round over every class: how many rows were pseudonymised."""
    from egactl.server.models import AuditEntry
    from egactl.server.privacy import pseudonym

    total = 0
    now = backend.now()
    for name, r, days in classes(backend):
        cutoff = now - dt.timedelta(days=days)
        with backend.write_sessions() as session:
            touched = int(r.expire(session, cutoff, lambda value: pseudonym(value, session), BATCH) or 0)
            if touched:
                session.add(AuditEntry(at=now, actor="system", role="system", action="expire",
                                       resource_type="privacy-retention", resource_id=f"{name}.{r.name}",
                                       institution=None, request_id=None, reason=f"older than {days} days",
                                       before=None, after={"rows": touched}))
            session.commit()
        total += touched
    return total


WORKER = Worker(name="privacy-retention", tick=expire_due, interval=600.0)
"""Run by ``egactl serve`` (every 10 minutes) and after each change in the sandbox."""
