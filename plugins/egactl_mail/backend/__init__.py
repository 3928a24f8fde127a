"""The mail service's part of the reference backend."""

from __future__ import annotations

from egactl.plugin import BackendPart, Worker
from egactl_mail.backend import routes
from egactl_mail.backend.models import TABLES


def _purge_tick(be) -> int:
    """Purge deleted mailboxes whose retention period has ended.

    A worker, not (only) a command: retention is a promise made under the
    Personal Data Protection Act, and it must hold even when nobody remembers
    to run anything. `egactl mail purge ADDRESS` exists to free one address
    now (after its retention) without waiting for the next round.
    """
    from egactl_mail.backend.service import purge_due

    with be.write_sessions() as session:
        done = purge_due(session, be.now())
        session.commit()
    return done


def _seed(session) -> None:
    from egactl_mail.backend.seed import seed

    seed(session)


def holdings(session, institution: str) -> dict[str, int]:
    """Mailboxes (a deleted one too, while its address is retained), purged mailboxes'
    records (kept for the audit trail), mail domains and distribution lists."""
    from sqlalchemy import func, select

    from egactl_mail.backend.models import MailDomain, Mailbox, MailList

    def count(model, *where) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.institution == institution, *where))

    return {"mailboxes": count(Mailbox, Mailbox.status != "purged"),
            "purged mailboxes (kept as records)": count(Mailbox, Mailbox.status == "purged"),
            "mail domains": count(MailDomain), "distribution lists": count(MailList)}


part = BackendPart(
    router=routes.build(),
    tables=TABLES,
    migrations="egactl_mail.server.migrations",
    holdings=holdings,
    seed=_seed,
    workers=[Worker("retention-purge", _purge_tick, interval=300.0)],
    settings={
        "retention_days": 90,          # a deleted mailbox's address is kept (not reusable) this long
        "default_quota_mb": 2048,
        "mass_suspend_percent": 5.0,   # reconcile's safety brake: at most this share of active mailboxes…
        "mass_suspend_max": 50,        # …and never more than this many, without --allow-mass-suspend
    },
)
