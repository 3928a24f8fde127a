"""The mail service's background work: the retention purge."""

from __future__ import annotations

from egactl.plugin import Worker
from egactl_mail.server.service import purge_due


def purge_tick(be) -> int:
    """Purge deleted mailboxes whose retention period has ended.

    A worker, not (only) a command: retention is a promise made under the
    Personal Data Protection Act, and it must hold even when nobody remembers
    to run anything. `egactl mail purge ADDRESS` exists to free one address
    now (after its retention) without waiting for the next round.
    """
    with be.write_sessions() as session:
        done = purge_due(session, be.now())
        session.commit()
    return done


WORKERS = [Worker("retention-purge", purge_tick, interval=300.0)]
