"""Keyset pagination by primary key, with an opaque cursor."""

from __future__ import annotations

import base64
from typing import Any, Callable

from sqlalchemy import Select
from sqlalchemy.orm import Session

from egactl.server.problems import Problem

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value = raw.split(":", 1)
        if kind != "id":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise Problem(422, "invalid cursor", errors=[{"field": "cursor", "message": "not a cursor from this API"}]) from None


def page(session: Session, stmt: Select, id_column: Any, *, cursor: str | None, limit: int | None,
         serialize: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Run ``stmt`` one page at a time: ``{"items": [...], "next_cursor": str | None}``."""
    limit = DEFAULT_LIMIT if limit is None else limit
    if limit < 1 or limit > MAX_LIMIT:
        raise Problem(422, f"limit must be between 1 and {MAX_LIMIT}", errors=[{"field": "limit", "message": "out of range"}])
    if cursor:
        stmt = stmt.where(id_column > decode(cursor))
    rows = session.scalars(stmt.order_by(id_column).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [serialize(r) for r in rows]
    return {"items": items, "next_cursor": encode(rows[-1].id) if more and rows else None}
