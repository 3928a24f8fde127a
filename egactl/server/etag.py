"""ETags, If-Match and optimistic locking: a stale If-Match gets 412, and no update is lost.

Every table a caller can change derives from ``egactl.server.db.Versioned``:
its ``version`` is SQLAlchemy's ``version_id_col``, so the database itself
refuses an UPDATE or DELETE made on top of a version that is no longer there
(``UPDATE … SET version = v + 1 WHERE id = :id AND version = v``; a miss
raises ``StaleDataError``, answered as 412). A route that changes a resource
calls ``guard`` first::

    row = etag.guard(load_the_row(...), "mailbox juma@rita.go.tz")

``guard`` locks the row for the rest of the request (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's write transactions already hold the database's write lock),
re-reads it, answers 404 if it has gone meanwhile, and 412 if the request's
If-Match names another version. State checks made after ``guard`` therefore see
the row as it is and as it stays until commit: of 20 concurrent requests with
the same If-Match, one wins and the others get 412 (or 404/409 once it is gone
or in another state).

The route frame (``egactl.server.scope``) refuses a mutating request that sent
an If-Match which no ``guard`` evaluated: a route cannot silently ignore it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import inspect, select, update
from sqlalchemy.orm.attributes import set_committed_value

from egactl.server.problems import Problem


def tag(version: int) -> str:
    return f'"v{version}"'


def matches(sent: str | None, version: int) -> bool:
    """Does an If-Match value admit ``version``? (None and ``*`` admit any.)"""
    if sent is None or sent.strip() == "*":
        return True
    candidates = {t.strip().removeprefix("W/") for t in sent.split(",")}
    return tag(version) in candidates


def _scope():
    from egactl.server import scope

    return scope.current()


def evaluate(version: int, what: str | None = None) -> None:
    """Hold the current request's If-Match against ``version`` (412 if it names another)."""
    s = _scope()
    s.if_match_evaluated = True
    if not matches(s.if_match, version):
        noun = what or "the resource"
        raise Problem(412, f"{noun} changed since you read it (now at version {version})", current_version=version)


def check(request: Request, version: int) -> None:
    """Refuse an update whose If-Match names another version. No If-Match: allowed
    (the CLI always sends one; raw `egactl api` callers may choose not to).

    Prefer ``guard``, which also locks the row."""
    del request  # the scope has the request's If-Match
    evaluate(version)


def lock(row: Any, what: str | None = None) -> Any:
    """Lock ``row`` until the request's transaction ends and re-read it (404 if it is gone).

    Call it before changing anything on ``row``: the re-read replaces what the
    session held. Works on any mapped row; for a ``Versioned`` one use ``guard``.
    """
    from egactl.server.scope import db

    state = inspect(row)
    mapper = state.mapper
    if state.identity is None:
        raise ValueError("lock() needs a row loaded from the database")
    criteria = [col == value for col, value in zip(mapper.primary_key, state.identity)]
    stmt = (select(mapper.class_).where(*criteria).with_for_update(of=mapper.local_table)
            .execution_options(populate_existing=True))
    fresh = db().scalars(stmt).one_or_none()
    if fresh is None:
        raise Problem(404, f"{what or 'the resource'} not found (it was removed meanwhile)")
    return fresh


def guard(row: Any, what: str | None = None) -> Any:
    """Lock ``row`` (see ``lock``) and hold the request's If-Match against its version."""
    fresh = lock(row, what)
    evaluate(fresh.version, what)
    return fresh


def touch(row: Any) -> None:
    """The resource changed in other tables (its members, its aliases): give it a new version.

    The UPDATE this causes carries the usual ``AND version = <read>`` check.
    """
    row.version = row.version + 1


def observe(row: Any, **values: Any) -> None:
    """Write columns that record observations (last check, last drill), not the resource:
    a plain UPDATE that leaves ``version`` as it is, so nobody's ETag goes stale."""
    from egactl.server.scope import db

    state = inspect(row)
    mapper = state.mapper
    criteria = [col == value for col, value in zip(mapper.primary_key, state.identity)]
    columns = {mapper.get_property(key).columns[0].name: value for key, value in values.items()}
    db().execute(update(mapper.local_table).where(*criteria).values(**columns))
    for key, value in values.items():
        set_committed_value(row, key, value)


def respond(data: Any, version: int, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data), status_code=status_code,
                        headers={"ETag": tag(version), **(headers or {})})
