"""/api/v1/audit: the log of every mutation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from egactl.server import audit
from egactl.server.models import AuditEntry
from egactl.server.pagination import page
from egactl.server.scope import ApiRoute, db, principal

router = APIRouter(route_class=ApiRoute, tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    role: str
    action: str
    resource_type: str
    resource_id: str
    institution: str | None
    request_id: str | None
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


def serialize(e: AuditEntry, *, with_data: bool = True) -> dict[str, Any]:
    """An entry as the caller may see it: for a role that masks personal data (the
    help desk), masked by the core (``audit.mask_entry``) whatever ``with_data`` says."""
    data = {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "role": e.role, "action": e.action,
            "resource_type": e.resource_type, "resource_id": e.resource_id, "institution": e.institution,
            "request_id": e.request_id, "reason": e.reason,
            "before": e.before if with_data else None, "after": e.after if with_data else None}
    if principal().masks_personal_data:
        data = audit.mask_entry(data, audit.declarations())
    return data


def query(*, since: dt.datetime | None = None, actor: str | None = None, resource_type: str | None = None,
          resource_id: str | None = None, action: str | None = None, institution: str | None = None):
    """The audit query, shared with plugins that show a resource's history."""
    p = principal()
    stmt = select(AuditEntry)
    visible = p.visible_institutions()
    if visible is not None:
        stmt = stmt.where(AuditEntry.institution.in_(visible))
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if resource_type:
        stmt = stmt.where(AuditEntry.resource_type == resource_type)
    if resource_id:
        stmt = stmt.where(AuditEntry.resource_id == resource_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if institution:
        stmt = stmt.where(AuditEntry.institution == institution.upper())
    return stmt


def history_page(stmt, cursor: str | None, limit: int | None, *, oldest_first: bool = True) -> dict[str, Any]:
    """A page of ``query``'s entries in time order (the id breaks ties): oldest first
    unless ``oldest_first=False``."""
    # The helpdesk sees who did what and when, not the before/after data (personal data).
    with_data = not principal().masks_personal_data
    return page(db(), stmt, AuditEntry.id, cursor=cursor, limit=limit, order_by=AuditEntry.at,
                serialize=lambda e: serialize(e, with_data=with_data), oldest_first=oldest_first)


@router.get("", response_model=AuditPage)
def list_audit(cursor: str | None = None, limit: int | None = None, since: dt.datetime | None = None,
               actor: str | None = None, resource_type: str | None = None, resource_id: str | None = None,
               action: str | None = None, institution: str | None = None, oldest_first: bool = False):
    """The audit log, newest first (``oldest_first=true`` for the other way)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    stmt = query(since=since, actor=actor, resource_type=resource_type, resource_id=resource_id,
                 action=action, institution=institution)
    return history_page(stmt, cursor, limit, oldest_first=oldest_first)
