"""egactl auth: log in, log out, show who you are, and (admins) manage API tokens."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from egactl import context, credentials
from egactl.errors import AuthError, InvalidInput, NotFound
from egactl.options import DEFAULT_LIMIT, All, DryRun, Limit, Yes, page_limit
from egactl.output import Column

app = typer.Typer(help="Log in, log out, show who you are; manage API tokens (admins).", no_args_is_help=True,
                  add_completion=False)
tokens_app = typer.Typer(help="API tokens: list, create, revoke (admins).", no_args_is_help=True, add_completion=False)
app.add_typer(tokens_app, name="tokens")

ROLES = ("admin", "operator", "helpdesk")


TOKEN_COLUMNS = [Column("id"), Column("subject"), Column("role"),
                 Column("institutions", format=lambda v: ", ".join(v or [])), Column("prefix"),
                 Column("created_at", "CREATED", wide=True), Column("expires_at", "EXPIRES"),
                 Column("revoked", format=lambda v: "yes" if v else "no")]

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
    """Store a token for the current profile, after checking it with the server.

    The sandbox logs itself in; log in to a profile with a real API.

    Examples:

      egactl --profile prod auth login

      egactl --profile prod auth login --with-token < token.txt
    """
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
    """Who am I: the profile, the identity, its role and institutions, where the token comes from.

    Examples:

      egactl auth status

      egactl auth status -o json --query role
    """
    ctx = context.get()
    api = ctx.api()
    me = api.get("/api/v1/tokens/self")
    token = credentials.get(ctx.settings.profile)
    record = {"profile": ctx.settings.profile, "api_url": ctx.settings.api_url, **me,
              "token_source": token.source if token else "none"}
    ctx.render(record, STATUS_COLUMNS)


@app.command()
def logout():
    """Forget the current profile's token.

    Examples:

      egactl auth logout

      egactl --profile prod auth logout
    """
    ctx = context.get()
    profile = ctx.settings.profile
    env_hint = "EGACTL_TOKEN is set in the environment; unset it too" if os.environ.get("EGACTL_TOKEN") else None
    if not credentials.delete(profile):
        raise AuthError(f"not logged in to profile {profile!r}; nothing to forget", hint=env_hint)
    ctx.success(f"Logged out of profile {profile}")
    if env_hint:
        ctx.io.warn(f"{env_hint}: commands still use it")


# -- tokens (admins) ------------------------------------------------------------------


@tokens_app.command("list")
def tokens_list(limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List API tokens: who holds them, role, institutions, prefix (never the token).

    -o wide adds when each was created.

    Examples:

      egactl auth tokens list

      egactl auth tokens list --all -o json --query "[?role=='admin' && !revoked].id"
    """
    ctx = context.get()
    items = ctx.api().list("/api/v1/tokens", limit=page_limit(limit, all_))
    ctx.render(items, TOKEN_COLUMNS, empty="No tokens.")


@tokens_app.command("create")
def tokens_create(subject: Annotated[str, typer.Option(help="Who the token is for (a person or a system).")],
                  role: Annotated[str, typer.Option(metavar="ROLE", help="admin, operator or helpdesk.")],
                  institution: Annotated[Optional[list[str]], typer.Option("--institution", "-i", metavar="CODE", help="For operators: an institution code (repeatable).")] = None,
                  expires_in_days: Annotated[Optional[int], typer.Option(min=1, max=3650, help="Expire after N days.")] = None,
                  dry_run: DryRun = False):
    """Issue a token (admins); it is shown once, on standard output.

    Only the token's hash is kept. A token is always new: creating another for
    the same subject and role issues a second token, never "exists".

    Examples:

      egactl auth tokens create --subject ops@rita.go.tz --role operator -i RITA

      egactl auth tokens create --subject nagios@ega.go.tz --role helpdesk --expires-in-days 365 -o json > token.json
    """
    ctx = context.get()
    role = role.strip().lower()
    if role not in ROLES:
        raise InvalidInput(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    codes = sorted({c.strip().upper() for c in institution or [] if c.strip()})
    if role == "operator" and not codes:
        raise InvalidInput("an operator token needs at least one --institution")
    body = {"subject": subject, "role": role, "institutions": codes, "expires_in_days": expires_in_days}
    if dry_run:
        ctx.io.status(f"dry run: would create a {role} token for {subject}")
        ctx.render(body, [Column("subject"), Column("role"), Column("institutions"), Column("expires_in_days", "EXPIRES IN DAYS")])
        return
    created = ctx.api().post("/api/v1/tokens", body)
    if ctx.fmt == "table" and not ctx.query:
        ctx.io.status(f"Token {created['id']} for {created['subject']} ({created['role']}); it is shown only now:")
        ctx.io.out.write(created["token"] + "\n")
    else:
        ctx.render(created, [*TOKEN_COLUMNS, Column("token")])


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (see `egactl auth tokens list`).")],
                  yes: Yes = False, dry_run: DryRun = False):
    """Revoke a token (admins): it stops working at once.

    The last working admin token cannot be revoked (exit 5): create another first.

    Examples:

      egactl auth tokens revoke 2

      egactl auth tokens revoke 2 --dry-run

      egactl auth tokens revoke 2 --yes -o json
    """
    ctx = context.get()
    api = ctx.api()
    if dry_run:
        current = next((t for t in api.list("/api/v1/tokens", limit=None) if t["id"] == token_id), None)
        if current is None:
            raise NotFound(f"token {token_id} not found")
        ctx.io.status(f"dry run: would revoke token {token_id} ({current['subject']}, {current['role']})")
        ctx.render(current, TOKEN_COLUMNS)
        return
    ctx.confirm(f"Revoke token {token_id}? Whoever uses it loses access at once.", yes=yes)
    revoked = api.delete(f"/api/v1/tokens/{token_id}")
    ctx.success(f"Revoked token {token_id} ({revoked['subject']}, {revoked['role']})")
    ctx.render(revoked, TOKEN_COLUMNS)
