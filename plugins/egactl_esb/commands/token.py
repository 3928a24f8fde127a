"""egactl esb token show: the bus token of the profile's client, redacted."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import Column, context

COLUMNS = [Column("token"), Column("expires_at", "EXPIRES"), Column("expires_in", "SECONDS LEFT"),
           Column("source"), Column("client_id", "CLIENT", wide=True), Column("token_url", "TOKEN URL", wide=True)]


def show(refresh: Annotated[bool, typer.Option("--refresh", help="Fetch a new token even if the cached one is still valid.")] = False):
    """Fetch (or reuse) the bus token and show it redacted, with its expiry.

    OAuth2 client credentials (a form with client_id, client_secret and
    grant_type=client_credentials, and HTTP Basic of the same) to the profile's
    token URL. The token is cached in the keyring (or the owner-only credentials
    file) until its expires_in runs out; it is never printed in full, --debug
    included. A new token replaces the old one on the bus.

    Examples:

      egactl esb token show

      egactl esb token show --refresh -o json
    """
    from egactl_esb.commands import connection

    ctx = context.get()
    conn = connection.resolve(ctx)
    value, expires, source = connection.token(ctx, conn, refresh=refresh)
    left = max(0, int((expires - ctx.now()).total_seconds()))
    ctx.render({"token": connection.redacted(value), "expires_at": expires.isoformat(), "expires_in": left,
                "source": source, "client_id": conn.values["client_id"], "token_url": conn.values["token_url"]},
               COLUMNS)
