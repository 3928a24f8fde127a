"""The background job that returns prefixes and VLANs to their pools when a hold ends.

Provisioning also returns ended holds of its pool before it allocates, so the
pool is right even where no worker runs; this job keeps pools and the audit
log current in between.
"""

from __future__ import annotations

from sqlalchemy import select

from egactl.plugin.server import audit, lock
from egactl_govnet.server import allocator
from egactl_govnet.server.models import Allocation, Pool
from egactl_govnet.server.service import RELEASE_REASON, RESOURCE, release_details


def release_holds(be) -> int:
    now = be.now()
    done = 0
    with be.write_sessions() as session:
        pool_ids = session.scalars(select(Allocation.pool_id).where(Allocation.hold_until.is_not(None),
                                                                    Allocation.hold_until <= now).distinct()).all()
        for pool_id in pool_ids:
            lock(session, allocator.pool_lock(pool_id))
            pool = session.get(Pool, pool_id)

            def record_release(alloc: Allocation) -> None:
                key, institution, details = release_details(session, alloc)
                audit.record("release", RESOURCE, key, institution=institution, reason=RELEASE_REASON, before=details,
                             session=session, at=now)

            done += allocator.release_expired(session, pool, now, record_release)
        session.commit()
    return done
