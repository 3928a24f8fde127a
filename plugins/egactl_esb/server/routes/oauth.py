"""/api/v1/esb/oauth/token: the bus's OAuth2 token endpoint (client credentials).

As GovESB's UAA: a form with ``client_id``, ``client_secret`` and
``grant_type=client_credentials``, with HTTP Basic of the client id and secret;
the answer's ``access_token`` is a bearer token for the engine, for
``expires_in`` seconds. A client's new token replaces its older ones. The caller
is authenticated here by its client credentials, not by an egactl token.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Header

from egactl.plugin.server import ApiRoute, Problem, act_as, audit, db, own_authentication
from egactl_esb.server.schemas import TokenOut
from egactl_esb.server.service import client_by_credentials, issue_token

router = APIRouter(route_class=ApiRoute, tags=["esb"])
log = logging.getLogger("egactl_esb.server.oauth")


def _oauth_error(status: int, error: str, description: str) -> Problem:
    """OAuth2's error (``error``, ``error_description``) in the problem+json every egactl route answers."""
    headers = {"WWW-Authenticate": 'Basic realm="govesb"'} if status == 401 else None
    return Problem(status, description, headers=headers, error=error, error_description=description)


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(authorization.split(" ", 1)[1].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return user, password


@router.post("/oauth/token", response_model=TokenOut)
@own_authentication
def token(grant_type: Annotated[str, Form(max_length=40)] = "",
          client_id: Annotated[str | None, Form(max_length=64)] = None,
          client_secret: Annotated[str | None, Form(max_length=200)] = None,
          authorization: Annotated[str | None, Header()] = None):
    """A bus access token for a client's credentials (form body, and HTTP Basic of the same)."""
    if grant_type != "client_credentials":
        raise _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    basic = _basic(authorization)
    if basic is not None:
        if (client_id and client_id != basic[0]) or (client_secret and client_secret != basic[1]):
            raise _oauth_error(401, "invalid_client", "the form's client credentials differ from HTTP Basic's")
        client_id, client_secret = basic
    if not client_id or not client_secret:
        raise _oauth_error(401, "invalid_client", "client_id and client_secret are required")
    client = client_by_credentials(db(), client_id, client_secret)
    if client is None:
        log.warning("bus token refused: bad client credentials for client id %r", client_id[:64])
        raise _oauth_error(401, "invalid_client", "Bad client credentials")
    act_as(client.client_id, role="esb-client", institutions=(client.institution,))
    value, lifetime = issue_token(client)
    audit.record("token", "esb_client", client.client_id, institution=client.institution,
                 after={"expires_in": lifetime})
    return {"access_token": value, "token_type": "bearer", "expires_in": lifetime, "scope": "read write"}
