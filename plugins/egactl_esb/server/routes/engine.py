"""/api/v1/esb/request, /push-request, /nida-request: the bus's engine.

A consumer POSTs a signed envelope (JSON or XML) with its bus token as the
bearer; the bus verifies the signature against the key registered for the
token's client, routes the code to the provider's endpoint (a real HTTP call,
signed by the bus), verifies the provider's signed answer and relays it,
signed with the bus's key. Every refusal — no or an unknown token, an expired
or replaced one, a bad signature, an unknown code, a caller that is not a
consumer, a provider that fails — is the bus's own answer: HTTP 200 with a
signed ``success: false`` and a message. Every exchange is in the audit log
(``esb_exchange``), its bodies masked.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from egactl.plugin.server import ApiRoute, backend, current_scope, own_authentication
from egactl_esb.server import service

router = APIRouter(route_class=ApiRoute, tags=["esb"])

ENVELOPE = {200: {"description": "a signed envelope: data.success, data.esbBody, data.message, data.requestId",
                  "content": {"application/json": {"schema": {"type": "object"}},
                              "application/xml": {"schema": {"type": "string"}}}}}


async def _exchange(kind: str, request: Request) -> Response:
    raw = await request.body()
    ex = await run_in_threadpool(service.admit, kind, raw, request.headers.get("Authorization"),
                                 current_scope().request_id)
    if ex.refusal is None:
        await service.call_provider(ex, request.app)
    text = await run_in_threadpool(_finish, ex)
    # The bus's clock, as a real server's Date header gives it: `egactl esb check` measures the skew.
    date = format_datetime(backend().now().astimezone(dt.timezone.utc), usegmt=True)
    return Response(text, media_type="application/json" if ex.format == "json" else "application/xml",
                    headers={"Date": date})


def _finish(ex: service.Exchange) -> str:
    service.settle(ex)
    return service.answer(ex)


@router.post("/request", responses=ENVELOPE)
@own_authentication
async def engine_request(request: Request):
    """A signed request for an API code (``data.apiCode``), answered by its provider through the bus."""
    return await _exchange("request", request)


@router.post("/push-request", responses=ENVELOPE)
@own_authentication
async def engine_push(request: Request):
    """A signed push (``data.pushCode``), delivered to the code's subscriber through the bus."""
    return await _exchange("push", request)


@router.post("/nida-request", responses=ENVELOPE)
@own_authentication
async def engine_nida(request: Request):
    """A signed request for NIDA's data about a person (``data.apiCode`` and ``data.userId``)."""
    return await _exchange("nida", request)
