"""Every path egactl esb speaks: the bus (token endpoint, engine) and the emulator's registry.

The bus's URLs come from the profile's esb settings (``connection.py``). A URL on
the API's own address (the sandbox's emulator, or the emulator of the egactl
server the profile talks to) is reached through the API client, hence through the
same transport (in-process for the sandbox); any other over the network, with the
profile's CA bundle and timeouts. Either way the bus's credentials are sent in the
request's own Authorization header (HTTP Basic of the client credentials, or the
bus token as bearer), never egactl's token, and ``--debug`` shows them redacted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from egactl.plugin.cli import EgactlError, InvalidInput, Unreachable, certificates

REGISTRY = "/api/v1/esb"


@dataclass
class Reply:
    status: int
    text: str
    content_type: str
    elapsed_ms: float
    date: str | None = None
    """The answer's Date header (the server's clock), if any."""


def api_base(ctx: Any) -> str:
    """The API's base URL as the API client uses it: the in-process sandbox is ``http://sandbox``."""
    return "http://sandbox" if ctx.settings.is_sandbox else ctx.settings.api_url.rstrip("/")


def on_api(ctx: Any, url: str) -> str | None:
    """``url``'s path when it is on the API's own address (reached through the API client), else None."""
    base = api_base(ctx)
    if url == base or url.startswith(base + "/"):
        return url[len(base):] or "/"
    return None


def post(ctx: Any, url: str, *, content: bytes, headers: dict[str, str]) -> Reply:
    """One POST to the bus; an HTTP error status is returned, not raised (the bus's answers are data)."""
    started = time.monotonic()
    path = on_api(ctx, url)
    if path is not None:
        response = ctx.api().request("POST", path, content=content, headers=headers, raise_for_status=False)
    else:
        response = _direct(ctx, url, content, headers)
    elapsed = (time.monotonic() - started) * 1000
    return Reply(response.status_code, response.text, response.headers.get("Content-Type", ""), elapsed,
                 response.headers.get("Date"))


def _direct(ctx: Any, url: str, content: bytes, headers: dict[str, str]) -> Any:
    import httpx

    s = ctx.settings
    debug = ctx.io.err if ctx.debug else None
    try:
        with httpx.Client(verify=certificates.trusting(ca_file=s.ca_bundle) if s.ca_bundle else True,
                          timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout)) as http:
            request = http.build_request("POST", url, content=content, headers=headers)
            if debug is not None:
                debug.write(f"> POST {request.url}\n")
                for name, value in request.headers.items():
                    debug.write(f"> {name}: {redact(name, value)}\n")
            response = http.send(request)
            if debug is not None:
                debug.write(f"< {response.status_code} {response.reason_phrase}\n")
            return response
    except httpx.TimeoutException:
        raise Unreachable(f"{url} did not answer in time", hint="check the esb URLs (`egactl esb config show`)") from None
    except httpx.HTTPError as exc:
        raise Unreachable(f"{url} could not be reached ({type(exc).__name__})",
                          hint="check the esb URLs (`egactl esb config show`) and your network") from None


def redact(name: str, value: str) -> str:
    if name.lower() in ("authorization", "proxy-authorization", "cookie"):
        return value.split(" ", 1)[0] + " [REDACTED]" if " " in value else "[REDACTED]"
    return value


def fetch_token(ctx: Any, token_url: str, client_id: str, secret: str) -> dict[str, Any]:
    """OAuth2 client credentials: form body and HTTP Basic; ``{"access_token", "expires_in", ...}``."""
    import base64
    from urllib.parse import urlencode

    form = urlencode({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    basic = base64.b64encode(f"{client_id}:{secret}".encode("utf-8")).decode("ascii")
    reply = post(ctx, token_url, content=form.encode("ascii"),
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}",
                          "Accept": "application/json"})
    import json

    try:
        data = json.loads(reply.text)
    except ValueError:
        data = None
    if reply.status >= 400:
        description = (data or {}).get("error_description") or (data or {}).get("error") or f"HTTP {reply.status}"
        from egactl.plugin.cli import AuthError

        if reply.status in (400, 401, 403):
            raise AuthError(f"the bus refused the client credentials of {client_id}: {description}",
                            hint="check --client-id and the client secret (`egactl esb config show`)")
        raise EgactlError(f"the token endpoint {token_url} answered HTTP {reply.status}: {description}")
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) \
            or not isinstance(data.get("expires_in"), (int, float)):
        raise EgactlError(f"the token endpoint {token_url} did not answer an OAuth2 token (access_token, expires_in)")
    return data


def check_url(value: str, flag: str) -> str:
    from egactl_esb import rules

    problem = rules.check_endpoint(value)
    if problem:
        raise InvalidInput(f"{flag}: {problem.replace('endpoint', 'the URL', 1)}")
    return value.rstrip("/")


# -- the emulator's registry (egactl's own API, egactl's token) ---------------------------


def list_clients(api: Any, *, institution: str | None, limit: int | None) -> Any:
    return api.list(f"{REGISTRY}/clients", limit=limit, institution=institution)


def show_client(api: Any, client_id: str) -> Any:
    return api.get(f"{REGISTRY}/clients/{client_id}")


def create_client(api: Any, body: dict[str, Any], *, dry_run: bool = False) -> Any:
    from egactl.plugin.cli import new_idempotency_key

    return api.post(f"{REGISTRY}/clients", body, idempotency_key=new_idempotency_key(), dry_run=dry_run)


def list_apis(api: Any, *, institution: str | None, limit: int | None) -> Any:
    return api.list(f"{REGISTRY}/apis", limit=limit, institution=institution)


def show_api(api: Any, code: str) -> Any:
    return api.get(f"{REGISTRY}/apis/{code}")


def create_api(api: Any, body: dict[str, Any], *, dry_run: bool = False) -> Any:
    from egactl.plugin.cli import new_idempotency_key

    return api.post(f"{REGISTRY}/apis", body, idempotency_key=new_idempotency_key(), dry_run=dry_run)


def bus_key(api: Any) -> Any:
    return api.get(f"{REGISTRY}/key")
