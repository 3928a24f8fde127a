"""/api/v1/sms/outbox: in the sandbox, what the outbox driver would have handed to a gateway."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.server import ApiRoute, db, page, visible
from egactl_sms.server.models import OutboxEntry
from egactl_sms.server.schemas import outbox_out
from egactl_sms.server.service import recipient_or_422

router = APIRouter(route_class=ApiRoute, tags=["sms"])


@router.get("/outbox")
def outbox(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
           to: str | None = None, batch: int | None = None):
    stmt = visible(select(OutboxEntry), OutboxEntry.institution, institution)
    if to:
        stmt = stmt.where(OutboxEntry.recipient == recipient_or_422(to, "to"))
    if batch is not None:
        stmt = stmt.where(OutboxEntry.batch_id == batch)
    return page(db(), stmt, OutboxEntry.id, cursor=cursor, limit=limit, serialize=outbox_out, oldest_first=True)
