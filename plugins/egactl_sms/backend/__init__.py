"""The sms part of the reference backend: senders, groups, opt-outs, sending,
cancelling, look-ups, and the delivery worker."""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin import BackendPart, PersonalData, Worker
from egactl_sms.backend import cancelling, delivery, groups, optouts, reading, senders, sending
from egactl_sms.backend.models import TABLES
from egactl_sms.backend.seed import seed

router = APIRouter()
router.include_router(senders.router, prefix="/senders")
router.include_router(groups.router, prefix="/groups")
router.include_router(optouts.router, prefix="/optouts")
router.include_router(sending.router)
router.include_router(reading.router)
router.include_router(cancelling.router)

# An opt-out's audit id is "INSTITUTION/NUMBER" and its reason is the citizen's own words.
PERSONAL = [PersonalData("sms-optout", r"(?P<institution>[^/]+)/(?P<phone>.+)", reason=True)]


def holdings(session, institution: str) -> dict[str, int]:
    """Sender IDs, contact groups, opt-outs, messages not yet handed to the gateway,
    and the batches already sent (kept as the institution's SMS history)."""
    from sqlalchemy import func, select

    from egactl_sms.backend.models import Batch, Group, Message, OptOut, Sender

    def count(model, *where) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.institution == institution, *where))

    return {"SMS senders": count(Sender), "contact groups": count(Group), "opt-outs": count(OptOut),
            "queued messages": count(Message, Message.state.in_(("queued", "submitting"))),
            "SMS batches (history)": count(Batch)}


part = BackendPart(router=router, tables=TABLES, migrations="egactl_sms.server.migrations", seed=seed, personal=PERSONAL,
                   holdings=holdings,
                   workers=[Worker("delivery", delivery.tick, interval=1.0)], settings=dict(delivery.SETTINGS))
