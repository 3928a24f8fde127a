"""How many codes an institution holds, and may hold: the default quota (the
backend's ``ussd.quota`` setting), e-GA's grants of more or fewer, the check
every allocation passes, and what the institution still holds when someone
tries to delete it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from egactl.plugin.server import audit, backend, conflict, db, insert_unique, iso, principal
from egactl_ussd import rules
from egactl_ussd.server.models import UssdCode, UssdQuota

RESOURCE = "ussd_quota"


def count_held(session, institution: str, *, gateway: bool = True) -> int:
    """Codes reserved for, assigned to or suspended for the institution (``rules.HELD``);
    ``gateway=False`` leaves out ``*152*00#``, which no quota counts."""
    stmt = select(func.count()).select_from(UssdCode).where(UssdCode.institution == institution,
                                                             UssdCode.state.in_(rules.HELD))
    if not gateway:
        stmt = stmt.where(UssdCode.id != rules.GATEWAY)
    return int(session.scalar(stmt))


def holdings(session, institution: str) -> dict[str, int]:
    """What the institution still holds, asked before it is deleted (a released code
    in quarantine is no longer its own). No foreign key guards these."""
    return {"USSD codes": count_held(session, institution)}


def default_quota() -> int:
    return int(backend().setting("ussd", "quota"))


def held(institution: str) -> int:
    """Codes the institution holds now: reserved, assigned or suspended (never the gateway)."""
    return count_held(db(), institution, gateway=False)


def quota_of(institution: str) -> tuple[int, UssdQuota | None]:
    grant = db().get(UssdQuota, institution)
    return (grant.quota if grant is not None else default_quota()), grant


def check_quota(institution: str) -> None:
    """Refuse (409) a code beyond the institution's quota.

    Called under the ``ussd-allocation`` lock, after it was taken: the count is
    what the last allocation committed, so concurrent requests of one institution
    cannot all pass at the edge.
    """
    limit, grant = quota_of(institution)
    count = held(institution)
    if count >= limit:
        which = "its quota granted by e-GA" if grant is not None else "the default quota"
        raise conflict(f"{institution} already holds {count} USSD code{'s' if count != 1 else ''} (reserved or assigned); "
                       f"{which} is {limit}: release one, or ask e-GA to raise it (egactl ussd quota set {institution} N)",
                       quota=limit, held=count)


def serialize_quota(institution: str) -> dict[str, Any]:
    limit, grant = quota_of(institution)
    count = held(institution)
    return {"institution": institution, "quota": limit, "default_quota": default_quota(), "granted": grant is not None,
            "held": count, "free": max(0, limit - count), "reason": grant.reason if grant else None,
            "set_by": grant.set_by if grant else None, "set_at": iso(grant.set_at) if grant else None}


def set_quota(institution: str, quota: int | None, reason: str) -> dict[str, Any]:
    """Grant ``institution`` its own quota, or (None) put it back on the default; audited."""
    principal().require("admin")
    session = db()
    at = backend().now()
    before = serialize_quota(institution)
    grant = session.get(UssdQuota, institution)
    if quota is None:
        if grant is None:
            return before
        session.delete(grant)
    elif grant is None:
        insert_unique(UssdQuota(institution=institution, quota=quota, reason=reason, set_by=principal().subject,
                                set_at=at), f"the quota of {institution} was set at the same moment; show it and retry")
    elif grant.quota == quota:
        return before
    else:
        grant.quota, grant.reason, grant.set_by, grant.set_at = quota, reason, principal().subject, at
    session.flush()
    after = serialize_quota(institution)
    audit.record("quota-set", RESOURCE, institution, institution=institution, before=before, after=after,
                 reason=reason)
    return after
