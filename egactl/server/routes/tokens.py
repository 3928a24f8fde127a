"""/api/v1/tokens: who am I, and (admins) issuing and revoking tokens."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from egactl.server import audit
from egactl.server.models import ApiToken, Institution
from egactl.server.pagination import page
from egactl.server.problems import Problem, not_found
from egactl.server.scope import ApiRoute, backend, db, principal, secret_response
from egactl.server.db import lock
from egactl.server.security import active_admin_tokens, issue_token
from egactl.times import for_people

router = APIRouter(route_class=ApiRoute, tags=["tokens"])


class TokenIn(BaseModel):
    subject: str = Field(min_length=1, max_length=200, description="Who the token is for (a person or a system)")
    role: Literal["admin", "operator", "helpdesk"]
    institutions: list[str] = Field(default_factory=list)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    subject: str
    role: str
    institutions: list[str]
    prefix: str
    created_at: str
    expires_at: str | None
    revoked: bool


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself; shown in this response only")


class TokenPage(BaseModel):
    items: list[TokenOut]
    next_cursor: str | None


def serialize(t: ApiToken) -> dict:
    return {"id": t.id, "subject": t.subject, "role": t.role, "institutions": list(t.institutions or []),
            "prefix": t.prefix, "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat() if t.expires_at else None, "revoked": t.revoked_at is not None}


@router.get("/self", response_model=TokenOut)
def whoami():
    row = db().get(ApiToken, principal().token_id)
    return serialize(row)


@router.get("", response_model=TokenPage)
def list_tokens(cursor: str | None = None, limit: int | None = None):
    principal().require("admin")
    return page(db(), select(ApiToken), ApiToken.id, cursor=cursor, limit=limit, serialize=serialize, oldest_first=True)


@router.post("", status_code=201, response_model=TokenCreated)
@secret_response("token")
def create_token(body: TokenIn):
    principal().require("admin")
    codes = sorted({c.upper() for c in body.institutions})
    if body.role == "operator" and not codes:
        raise Problem(422, "an operator token needs at least one institution",
                      errors=[{"field": "institutions", "message": "required for operator"}])
    known = set(db().scalars(select(Institution.code).where(Institution.code.in_(codes))))
    if missing := [c for c in codes if c not in known]:
        raise Problem(422, f"unknown institution {missing[0]}", errors=[{"field": "institutions", "message": "unknown"}])
    now = backend().now()
    expires = now + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token, row = issue_token(db(), subject=body.subject, role=body.role, institutions=codes, now=now, expires_at=expires)
    out = serialize(row)
    audit.record("create", "token", row.id, after=out)
    return {**out, "token": token}


@router.delete("/{token_id}", response_model=TokenOut)
def revoke_token(token_id: int):
    """Revoke a token (admins). The last working admin token cannot be revoked (409):
    nobody could issue or revoke tokens any more, short of the database itself."""
    principal().require("admin")
    session = db()
    # Two admins revoking the last two admin tokens at once must not both succeed:
    # revocations of admin tokens queue here (an advisory lock on PostgreSQL, the
    # write lock SQLite's write transaction already holds), and each counts what
    # is left only once it holds the lock.
    lock(session, "core:admin-tokens")
    row = session.get(ApiToken, token_id, populate_existing=True)
    if row is None:
        raise not_found(f"token {token_id}")
    # Under the lock: of concurrent revocations one revokes (and is audited); the others see it revoked.
    if row.revoked_at is not None:
        raise Problem(409, f"token {token_id} is already revoked (since {for_people(row.revoked_at)})",
                      revoked_at=row.revoked_at.isoformat())
    before = serialize(row)
    now = backend().now()
    working = row.expires_at is None or row.expires_at > now
    if row.role == "admin" and working and active_admin_tokens(session, now) <= 1:
        raise Problem(409, f"token {token_id} is the last working admin token; revoking it would leave "
                           "nobody able to issue or revoke tokens (create another admin token first)")
    row.revoked_at = now
    audit.record("revoke", "token", row.id, before=before, after=serialize(row))
    return serialize(row)
