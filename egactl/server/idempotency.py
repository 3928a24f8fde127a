"""The Idempotency-Key store: same key and body → the stored response; other body → 422.

A record is kept ``idempotency.hours`` (24 by default; ``EGACTL_IDEMPOTENCY_HOURS``):
a retry within that time replays; after it the key is forgotten and the request
is treated as new. The core's ``purge-idempotency`` worker deletes expired
records, at most ``idempotency.purge_batch`` per tick, so the store does not
grow for ever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

from fastapi import Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from egactl.errors import InvalidInput
from egactl.plugin import Worker
from egactl.server.backend import Backend
from egactl.server.models import IdempotencyRecord
from egactl.server.problems import Problem
from egactl.server.security import Principal

KEPT_HEADERS = ("content-type", "etag", "location")
DEFAULT_HOURS = 24
DEFAULT_PURGE_BATCH = 2000
PURGE_INTERVAL = 60.0


def kept_for(be: Backend) -> dt.timedelta:
    """How long a record replays: the ``idempotency.hours`` setting (``EGACTL_IDEMPOTENCY_HOURS``)."""
    return dt.timedelta(hours=_positive(be.setting("idempotency", "hours"), DEFAULT_HOURS,
                                        "EGACTL_IDEMPOTENCY_HOURS", "a number of hours"))


def purge_batch(be: Backend) -> int:
    """Expired records deleted per tick at most: ``idempotency.purge_batch`` (``EGACTL_IDEMPOTENCY_PURGE_BATCH``)."""
    value = _positive(be.setting("idempotency", "purge_batch"), DEFAULT_PURGE_BATCH,
                      "EGACTL_IDEMPOTENCY_PURGE_BATCH", "a whole number of records")
    if value != int(value):
        raise InvalidInput(f"EGACTL_IDEMPOTENCY_PURGE_BATCH={value:g}: not a whole number of records")
    return int(value)


def check_settings(be: Backend) -> None:
    """Refuse a bad setting when the backend starts (exit 2), not at a request."""
    kept_for(be)
    purge_batch(be)


def _positive(value: object, default: float, name: str, what: str) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise InvalidInput(f"{name}={value}: not {what} above 0", hint=f"leave it unset for {default:g}")
    return number


def is_expired(created_at: dt.datetime, now: dt.datetime, kept: dt.timedelta) -> bool:
    return created_at <= now - kept


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
    if is_expired(rec.created_at, be.now(), kept_for(be)):
        # Forgotten: the request runs anew. The old record goes now, so that its answer
        # can be stored under the same key (a concurrent twin then clashes on the key
        # and replays the new answer, as within the window).
        with be.write_sessions() as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == rec.id))
            session.commit()
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


def purge(be: Backend) -> int:
    """The ``purge-idempotency`` worker's tick: delete expired records, oldest first, at most
    ``purge_batch`` of them (a bounded transaction); how many went."""
    cutoff = be.now() - kept_for(be)
    oldest = (select(IdempotencyRecord.id).where(IdempotencyRecord.created_at <= cutoff)
              .order_by(IdempotencyRecord.created_at).limit(purge_batch(be)))
    with be.write_sessions() as session:
        ids = list(session.scalars(oldest))
        if ids:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(ids)))
        session.commit()
    return len(ids)


PURGE_WORKER = Worker("purge-idempotency", purge, interval=PURGE_INTERVAL)
"""The core's worker that keeps the store to about ``idempotency.hours`` of keys."""
