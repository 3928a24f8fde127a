"""egactl esb clients list / show / create: the bus's clients (the emulator's registry)."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, DryRun, Institution, InvalidInput, Limit, context, enforce,
                               page_limit)
from egactl.plugin.rules import RuleError
from egactl_esb import client
from egactl_esb.commands.common import read_input

LIST_COLUMNS = [Column("client_id", "CLIENT"), Column("institution"), Column("curve"),
                Column("key_fingerprint", "KEY", wide=True), Column("created_at", "CREATED", wide=True),
                Column("created_by", "CREATED BY", wide=True)]
DETAIL = [Column("client_id", "CLIENT"), Column("institution"), Column("curve"), Column("key_fingerprint", "KEY"),
          Column("public_key", "PUBLIC KEY"), Column("created_at", "CREATED"), Column("created_by", "CREATED BY")]
CREATED = DETAIL + [Column("client_secret", "CLIENT SECRET")]

ClientArg = Annotated[str, typer.Argument(metavar="CLIENT", help="The client id.", show_default=False)]


def list_(institution: Institution = None, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List the bus's clients (operators see their institutions'; admins and the help desk all).

    Examples:

      egactl esb clients list

      egactl esb clients list -i RITA -o wide
    """
    ctx = context.get()
    inst = ctx.institution(institution, required=False)
    ctx.render(client.list_clients(ctx.api(), institution=inst, limit=page_limit(limit, all_)), LIST_COLUMNS,
               empty="No clients match.")


def show(client_id: ClientArg):
    """Show a client: its institution and the public key its signatures are checked with.

    Examples:

      egactl esb clients show tra-idras-sandbox

      egactl esb clients show tra-idras-sandbox -o json --query key_fingerprint
    """
    ctx = context.get()
    ctx.render(client.show_client(ctx.api(), client_id), DETAIL)


def create(client_id: ClientArg,
           public_key: Annotated[str, typer.Option("--public-key", metavar="FILE", show_default=False,
                                                   help="The client's public key file (keygen's esb-public-key), - for standard input.")],
           institution: Institution = None, dry_run: DryRun = False):
    """Register a client of the bus for an institution, with the public key it signs with.

    The bus makes the client secret and shows it once, here: keep it (e.g.
    `egactl esb config set --client-secret-file -`); the bus keeps only its hash.

    Examples:

      egactl esb clients create rita-crvs -i RITA --public-key keys/esb-public.key

      egactl esb clients create tra-idras -i TRA --public-key - -o json < keys/esb-public.key
    """
    from egactl_esb import rules

    ctx = context.get()
    inst = ctx.institution(institution)
    enforce(rules.check_client_id, client_id, flag="CLIENT")
    text = read_input(public_key).decode("ascii", "replace").strip()
    try:
        rules.import_public(text)
    except RuleError as exc:
        raise InvalidInput(f"--public-key {public_key}: {exc}") from None
    record = client.create_client(ctx.api(), {"institution": inst, "client_id": client_id, "public_key": text},
                                  dry_run=dry_run)
    if dry_run:
        ctx.success(f"Would register client {client_id} for {inst}")
        record.pop("client_secret", None)
        ctx.render(record, DETAIL)
        return
    ctx.success(f"Registered client {client_id} for {inst}; its secret is shown once, below: keep it now")
    ctx.render(record, CREATED)
