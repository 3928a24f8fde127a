"""Who a bearer token is, remembered for a moment.

Authenticating a request was a database session, an indexed query and a hop
to a request thread — a third of the work of reading a page of the directory,
repeated for every request of a busy client. A token that authenticated is
remembered, by its SHA-256 (never in clear), for ``TTL`` seconds:

- its expiry is still checked on every request, against the backend's clock;
- revoking or changing a token in this process forgets every remembered token
  at once (on flush and again on commit, so a request that read the old row
  meanwhile cannot keep it);
- a token revoked through *another* API process sharing the database stops
  working here within ``TTL`` seconds;
- a failed authentication is never remembered: it is checked (and counted)
  every time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from egactl.server.models import ApiToken

if TYPE_CHECKING:
    from egactl.server.backend import Backend
    from egactl.server.security import Principal

TTL = 2.0
MAX_ENTRIES = 10_000

_lock = threading.Lock()
_generation = 0
# (id(engine), token hash) -> (generation, remembered at, principal, expires_at)
_entries: dict[tuple[int, str], tuple[int, float, "Principal", dt.datetime | None]] = {}


def _key(be: "Backend", authorization: str | None) -> tuple[int, str] | None:
    if not authorization or not authorization[:7].lower() == "bearer ":
        return None
    token = authorization[7:].strip()
    return id(be.engine), hashlib.sha256(token.encode("utf-8")).hexdigest()


def recall(be: "Backend", authorization: str | None) -> "Principal | None":
    """The principal of a token that authenticated within TTL seconds, if still valid."""
    key = _key(be, authorization)
    if key is None:
        return None
    entry = _entries.get(key)
    if entry is None:
        return None
    generation, at, principal, expires_at = entry
    if generation != _generation or time.monotonic() - at > TTL:
        _entries.pop(key, None)
        return None
    if expires_at is not None and expires_at <= be.now():
        return None  # expired meanwhile: let authentication say so
    return principal


def remember(be: "Backend", authorization: str | None, principal: "Principal", expires_at: dt.datetime | None,
             generation: int) -> None:
    """Remember a successful authentication that began at ``generation``."""
    key = _key(be, authorization)
    if key is None:
        return
    with _lock:
        if generation != _generation:
            return  # a token changed while this one was being looked up
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[key] = (generation, time.monotonic(), principal, expires_at)


def generation() -> int:
    return _generation


def forget_all() -> None:
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


@event.listens_for(ApiToken, "after_update")
@event.listens_for(ApiToken, "after_delete")
def _token_changed(_mapper, _connection, target: ApiToken) -> None:
    forget_all()
    session = object_session(target)
    if session is not None:
        session.info["egactl_tokens_changed"] = True


@event.listens_for(Session, "do_orm_execute")
def _bulk_token_change(state) -> None:
    """``session.execute(update(ApiToken)…)`` (or delete) changes tokens without loading them:
    no per-row event fires, so forget here too, and again on commit."""
    if (state.is_update or state.is_delete) and any(m.class_ is ApiToken for m in state.all_mappers):
        forget_all()
        state.session.info["egactl_tokens_changed"] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop("egactl_tokens_changed", False):
        forget_all()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop("egactl_tokens_changed", None)
