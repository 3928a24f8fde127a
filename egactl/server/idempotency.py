"""The Idempotency-Key store: same key and body → the stored response; other body → 422."""

from __future__ import annotations

import datetime as dt
import hashlib

from fastapi import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from egactl.server.backend import Backend
from egactl.server.models import IdempotencyRecord
from egactl.server.problems import Problem
from egactl.server.security import Principal

KEPT_HEADERS = ("content-type", "etag", "location")


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def lookup(be: Backend, principal: Principal, key: str, fp: str) -> Response | None:
    with be.read_sessions() as session:
        rec = session.scalar(select(IdempotencyRecord).where(
            IdempotencyRecord.token_id == principal.token_id, IdempotencyRecord.key == key))
    if rec is None:
        return None
    if rec.fingerprint != fp:
        raise Problem(422, "this Idempotency-Key was already used with a different request",
                      title="Idempotency-Key reused")
    headers = dict(rec.headers)
    headers["Idempotent-Replayed"] = "true"
    return Response(content=rec.body, status_code=rec.status, headers=headers)


def without_secret(response: Response, noun: str, path: str) -> Response:
    """What a retry of a secret-bearing creation hears: what was made, never the secret."""
    import json

    try:
        made = json.loads(bytes(getattr(response, "body", b"") or b"")).get("id")
    except (ValueError, AttributeError):
        made = None
    what = f"{noun} {made}" if made is not None else f"the {noun}"
    problem = Problem(409, f"this request already created {what}; its secret was shown only once and is not "
                           f"kept, so it cannot be shown again", title="Already done", instance=path)
    return problem.response()


def store(session: Session, principal: Principal, key: str, fp: str, response: Response, now: dt.datetime) -> None:
    body = bytes(getattr(response, "body", b"") or b"")
    headers = {k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
    session.add(IdempotencyRecord(token_id=principal.token_id, key=key, fingerprint=fp,
                                  status=response.status_code, headers=headers, body=body, created_at=now))
    session.flush()


def is_key_clash(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "core_idempotency" in text or "uq_core_idempotency_token_key" in text
