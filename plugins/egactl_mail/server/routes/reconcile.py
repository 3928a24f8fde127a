"""/api/v1/mail/reconcile: the HR roster against the mailboxes (see server/reconcile.py)."""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin.server import ApiRoute
from egactl_mail.server import reconcile
from egactl_mail.server.schemas import PlanOut, ReconcileIn

router = APIRouter(route_class=ApiRoute, tags=["mail"])


@router.post("/reconcile", response_model=PlanOut)
def reconcile_roster(body: ReconcileIn):
    """Plan joiners, leavers, movers and returners; with ``apply``, carry the plan out.

    Without ``apply`` nothing changes. With it, the plan is applied in this
    transaction, all or nothing; the safety brake (409) and a stale
    ``expect_digest`` (409) change nothing.
    """
    plan, work = reconcile.compute(body)
    if body.apply:
        reconcile.apply(body, plan, work)
        plan["applied"] = True
    return plan
