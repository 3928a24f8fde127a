"""/api/v1/esb/sandbox/provider: RITA's system as the sandbox plays it (``egactl_esb.sandbox``).

Only in the sandbox (``egactl serve`` answers 404). It is called by the bus, not by
egactl users: it verifies the bus's signature (as a provider behind GovESB does) and
answers a signed envelope, signed with the sandbox's RITA key.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from egactl.plugin.rules import RuleError
from egactl.plugin.server import ApiRoute, Problem, backend, own_authentication
from egactl_esb import rules, sandbox
from egactl_esb.server.service import bus_key

router = APIRouter(route_class=ApiRoute, tags=["esb"])


@router.post(sandbox.PROVIDER_PATH, include_in_schema=False)
@own_authentication  # its caller is the bus, proven by the bus's signature
async def sandbox_provider(request: Request):
    if not backend().sandbox:
        raise Problem(404, "the sandbox provider is served only by the sandbox")
    raw = (await request.body()).decode("utf-8", "replace")
    key = rules.import_private(sandbox.PROVIDER_PRIVATE_KEY)
    try:
        envelope = rules.parse_envelope(raw)
        rules.verify(envelope.data_bytes, envelope.signature, bus_key().public_key())
        fields = rules.read_fields(envelope)
        success, body, message = sandbox.provider_answer(fields.body)
        request_id = str(fields.get("requestId") or "")
    except RuleError as exc:
        success, body, message, request_id = False, None, f"refused: {exc}", ""
        envelope = None
    fmt = envelope.format if envelope is not None else "json"
    data = rules.response_data(success, body, message, request_id, fmt=fmt)
    return Response(rules.sign_data(data, key, root="esbresponse"),
                    media_type="application/json" if fmt == "json" else "application/xml")
