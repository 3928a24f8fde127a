"""egactl esb config set / show: a profile's GovESB connection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from egactl.plugin.cli import Column, InvalidInput, context, enforce, plugin_config
from egactl.plugin.rules import RuleError
from egactl_esb.commands.common import read_input

COLUMNS = [Column("setting"), Column("value"), Column("source")]


def set_(token_url: Annotated[Optional[str], typer.Option("--token-url", metavar="URL",
                                                          help="The OAuth2 token URL, e.g. https://HOST/gw/govesb-uaa/oauth/token.")] = None,
         engine_url: Annotated[Optional[str], typer.Option("--engine-url", metavar="URL",
                                                           help="The engine's base URL (/request, /push-request and /nida-request are under it).")] = None,
         client_id: Annotated[Optional[str], typer.Option("--client-id", metavar="ID", help="Your client id on the bus.")] = None,
         client_secret_file: Annotated[Optional[str], typer.Option(
             "--client-secret-file", metavar="FILE",
             help="Read the client secret from FILE (- for standard input) into the keyring (or the owner-only "
                  "credentials file); never on the command line.")] = None,
         private_key: Annotated[Optional[Path], typer.Option("--private-key", metavar="FILE", dir_okay=False,
                                                             help="Your private key file (base64 of PKCS#8 DER, 0600).")] = None,
         esb_public_key: Annotated[Optional[str], typer.Option("--esb-public-key", metavar="FILE",
                                                               help="The bus's public key file, as GovESB gave it.")] = None,
         ping_code: Annotated[Optional[str], typer.Option("--ping-code", metavar="CODE",
                                                          help="The API code `egactl esb check` sends a ping to.")] = None):
    """Set the profile's GovESB connection (only the settings given change).

    Settings go to the profile's [profiles.NAME.plugins.esb] table in the config
    file; the client secret goes to the keyring (or the owner-only credentials
    file), and EGACTL_ESB_CLIENT_SECRET overrides it. On the sandbox profile
    everything already works against the sandbox's emulator.

    Examples:

      egactl esb config set --token-url https://esb.gov.go.tz/gw/govesb-uaa/oauth/token --engine-url https://esb.gov.go.tz/engine

      egactl esb config set --client-id tra-idras --client-secret-file - < secret.txt

      egactl --profile prod esb config set --private-key keys/esb-private.key --esb-public-key govesb-public.key
    """
    from egactl_esb import client, rules
    from egactl_esb.commands import connection

    ctx = context.get()
    profile = ctx.settings.profile
    table = plugin_config.load(connection.PLUGIN, profile)
    changed = []
    if token_url is not None:
        table["token_url"] = client.check_url(token_url, "--token-url")
        changed.append("token_url")
    if engine_url is not None:
        table["engine_url"] = client.check_url(engine_url, "--engine-url")
        changed.append("engine_url")
    if client_id is not None:
        table["client_id"] = enforce(rules.check_client_id, client_id, flag="--client-id")
        changed.append("client_id")
    if ping_code is not None:
        table["ping_code"] = enforce(rules.check_api_code, ping_code, flag="--ping-code")
        changed.append("ping_code")
    if private_key is not None:
        path = private_key.expanduser().resolve()
        try:
            rules.import_private(path.read_text("ascii"))
        except FileNotFoundError:
            raise InvalidInput(f"--private-key {private_key}: no such file") from None
        except (OSError, UnicodeDecodeError, RuleError) as exc:
            raise InvalidInput(f"--private-key {private_key}: {getattr(exc, 'strerror', None) or exc}") from None
        table["private_key"] = str(path)
        changed.append("private_key")
    if esb_public_key is not None:
        text = read_input(esb_public_key).decode("ascii", "replace").strip()
        try:
            rules.import_public(text)
        except RuleError as exc:
            raise InvalidInput(f"--esb-public-key {esb_public_key}: {exc}") from None
        table["esb_public_key"] = text
        changed.append("esb_public_key")
    secret = None
    if client_secret_file is not None:
        secret = read_input(client_secret_file).decode("utf-8", "replace").strip()
        if not secret or not all("!" <= c <= "~" for c in secret):
            raise InvalidInput(f"--client-secret-file {client_secret_file}: the secret is empty or has spaces, "
                               "control or non-ASCII characters")
    if not changed and secret is None:
        raise InvalidInput("nothing to set", hint="give at least one option, e.g. --client-id; see "
                                                  "`egactl esb config set --help`")
    plugin_config.save(connection.PLUGIN, profile, table)
    if secret is not None:
        where, fallback = plugin_config.store_secret(connection.PLUGIN, profile, "client_secret", secret)
        changed.append("client_secret")
        if fallback:
            ctx.warn(f"no system keyring: the client secret is kept in {where}, readable only by you")
    connection.forget_token(connection.resolve(ctx))  # another client or URL: the cached token is not theirs
    ctx.success(f"Set {', '.join(changed)} for GovESB in profile {profile}")


def show():
    """Show the profile's GovESB connection and where each setting comes from.

    Secrets are never shown: only whether they are set, and where they are kept.

    Examples:

      egactl esb config show

      egactl --profile prod esb config show -o json
    """
    from egactl_esb.commands import connection

    ctx = context.get()
    conn = connection.resolve(ctx)
    rows = []
    for name in connection.SETTINGS:
        value = conn.values.get(name)
        if name == "esb_public_key" and value:
            value = f"{value[:16]}… (set)"
        rows.append({"setting": name, "value": value, "source": conn.sources.get(name)})
    secret = plugin_config.get_secret(connection.PLUGIN, conn.profile, "client_secret")
    rows.append({"setting": "client_secret", "value": "(set)" if secret or conn.sandbox else None,
                 "source": secret.source if secret else ("sandbox default" if conn.sandbox else "not set")})
    ctx.render(rows, COLUMNS)
