"""egactl auth: log in, log out, and show who you are."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from egactl import context, credentials
from egactl.errors import AuthError, InvalidInput
from egactl.output import Column

app = typer.Typer(help="Log in, log out, and show who you are.", no_args_is_help=True, add_completion=False)

STATUS_COLUMNS = [Column("profile"), Column("api_url", "API"), Column("subject", "LOGGED IN AS"), Column("role"),
                  Column("institutions"), Column("token_source", "TOKEN FROM"), Column("expires_at", "EXPIRES")]


def _verify(ctx: context.Context, token: str) -> dict:
    """Ask the server who this token is; nothing is stored unless this succeeds."""
    from egactl.api_client import ApiClient

    s = ctx.settings
    if s.is_sandbox:
        raise InvalidInput("the sandbox profile logs itself in", hint="use `egactl config set api_url URL --profile NAME` for a real API")
    client = ApiClient(s.api_url, token=token, verify=s.ca_bundle or True, connect_timeout=s.connect_timeout,
                       read_timeout=s.read_timeout, retries=s.retries, debug=ctx.io.err if ctx.debug else None)
    try:
        return client.get("/api/v1/tokens/self")
    finally:
        client.close()


@app.command()
def login(with_token: Annotated[bool, typer.Option("--with-token", help="Read the token from standard input.")] = False):
    """Store a token for the current profile, after checking it with the server."""
    ctx = context.get()
    if with_token:
        token = sys.stdin.readline().strip()
    elif ctx.io.interactive:
        token = typer.prompt("Paste your e-GA API token", hide_input=True, err=True).strip()
    else:
        raise InvalidInput("no terminal to prompt for a token", hint="pipe it in: `egactl auth login --with-token < token.txt`")
    if not token:
        raise InvalidInput("the token is empty")
    token = credentials.check(token, "standard input" if with_token else "the prompt")
    me = _verify(ctx, token)
    where, is_file = credentials.store(ctx.settings.profile, token)
    if is_file:
        ctx.io.warn(f"no system keyring found; the token is kept in {where} (readable only by you)")
    ctx.success(f"Logged in to {ctx.settings.api_url} as {me['subject']} ({me['role']}); token kept in {where}")
    if os.environ.get("EGACTL_TOKEN"):
        ctx.io.warn("EGACTL_TOKEN is set and takes precedence over the stored token; unset it to use this login")


@app.command()
def status():
    """Who am I: the profile, the identity, its role and institutions, where the token comes from."""
    ctx = context.get()
    api = ctx.api()
    me = api.get("/api/v1/tokens/self")
    token = credentials.get(ctx.settings.profile)
    record = {"profile": ctx.settings.profile, "api_url": ctx.settings.api_url, **me,
              "token_source": token.source if token else "none"}
    ctx.render(record, STATUS_COLUMNS)


@app.command()
def logout():
    """Forget the current profile's token."""
    ctx = context.get()
    profile = ctx.settings.profile
    env_hint = "EGACTL_TOKEN is set in the environment; unset it too" if os.environ.get("EGACTL_TOKEN") else None
    if not credentials.delete(profile):
        raise AuthError(f"not logged in to profile {profile!r}; nothing to forget", hint=env_hint)
    ctx.success(f"Logged out of profile {profile}")
    if env_hint:
        ctx.io.warn(f"{env_hint}: commands still use it")
