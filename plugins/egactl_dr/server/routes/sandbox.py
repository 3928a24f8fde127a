"""/api/v1/dr/sandbox/sites: in the sandbox only, the seeded systems' own endpoints.

The seeded systems' sites are under ``.example`` (``egactl_dr.sandbox_sites``);
``GET …/sites/{host}`` is the name lookup, ``GET …/sites/{host}/answer?target=/health``
what the site answers to ``GET /health``.
``egactl dr check`` reaches such a host through the backend it talks to. The
sandbox answers here what each site would; any other backend (``egactl serve``)
answers 404 for every host, so a check there says the name does not resolve.

Not part of the API contract (left out of the OpenAPI document): these are
stand-ins for the institutions' systems, not e-GA's API. Any signed-in caller
may read them, as anyone on the network may read a health endpoint.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from egactl.plugin.server import ApiRoute, backend, not_found
from egactl_dr import sandbox_sites

router = APIRouter(route_class=ApiRoute, tags=["dr"])


def _site(host: str) -> str:
    host = host.lower().rstrip(".")
    if not backend().sandbox or host not in sandbox_sites.SITES:
        raise not_found(f"sandbox site {host}")
    return host


@router.get("/sandbox/sites/{host}", include_in_schema=False)
def site(host: str):
    """That the sandbox serves ``host`` (what a name lookup would tell)."""
    return {"host": _site(host), "served_by": "sandbox"}


@router.get("/sandbox/sites/{host}/answer", include_in_schema=False)
def answer(host: str, target: str = "/"):
    """What ``GET target`` on ``host`` answers (``target``: the path and query, e.g. ``/health``)."""
    host = _site(host)
    reply = sandbox_sites.respond(host, target, backend().now())
    assert reply is not None
    status, headers, body = reply
    return Response(content=body, status_code=status, headers=headers)
