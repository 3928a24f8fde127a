"""ETag / If-Match for optimistic concurrency: a stale If-Match gets 412.

``check`` compares the If-Match with the version the route just read. On
PostgreSQL (READ COMMITTED) two concurrent requests can both read the same
version and pass; so a versioned model must also let the database decide::

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

The route still bumps ``version`` itself; the ORM then adds ``AND version =
<read>`` to the UPDATE/DELETE, and the loser's ``StaleDataError`` is answered
as 412 like a stale If-Match (see ``problems.install``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from egactl.server.problems import Problem


def tag(version: int) -> str:
    return f'"v{version}"'


def check(request: Request, version: int) -> None:
    """Refuse an update whose If-Match names another version. No If-Match: allowed
    (the CLI always sends one; raw `egactl api` callers may choose not to)."""
    sent = request.headers.get("If-Match")
    if sent is None or sent.strip() == "*":
        return
    candidates = {t.strip().removeprefix("W/") for t in sent.split(",")}
    if tag(version) not in candidates:
        raise Problem(412, f"the resource changed since you read it (now at version {version})")


def respond(data: Any, version: int, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data), status_code=status_code,
                        headers={"ETag": tag(version), **(headers or {})})
