"""egactl mail alias: more addresses for a mailbox."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, DryRun, Limit, NotFound, Yes, context, enforce, formerly,
                               page_limit)
from egactl_mail import client, rules
from egactl_mail.commands.common import Ref

app = typer.Typer(help="Aliases: more addresses delivering to one mailbox.", no_args_is_help=True)

COLUMNS = [Column("address", "ALIAS"), Column("mailbox"), Column("institution"), Column("created_at", "CREATED", wide=True)]
Alias = Annotated[str, typer.Argument(metavar="ALIAS", help="The alias address (or just the part before @: the mailbox's domain).")]


@app.command("list")
def list_(ref: Ref, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List a mailbox's aliases.

    Examples:

      egactl mail alias list juma.mrisho@rita.go.tz

      egactl mail alias list 111000001 -o json
    """
    ctx = context.get()
    items = client.list_aliases(ctx.api(), ref, limit=page_limit(limit, all_))
    ctx.render(items, COLUMNS, empty="No aliases.")


@formerly(app, "add")
@app.command()
def create(ref: Ref, alias: Alias, dry_run: DryRun = False):
    """Add an alias (exit 5 if the address is taken by anything else, retained ones included).

    Re-running it is safe: an alias the mailbox has already is "exists", exit 0.

    Examples:

      egactl mail alias create juma.mrisho@rita.go.tz registrar

      egactl mail alias create 111000002 ict.support@rita.go.tz --dry-run
    """
    ctx = context.get()
    api = ctx.api()
    alias = rules.normalise_address(alias)
    if "@" not in alias:
        alias = f"{alias}@{client.get_mailbox(api, ref)['domain']}"
    enforce(rules.check_address, alias, flag="ALIAS")
    if dry_run:
        current = client.get_mailbox(api, ref)
        ctx.io.status(f"dry run: would add alias {alias} to {current['address']}; nothing was changed")
        return
    added, created = client.add_alias(api, ref, alias)
    if created:
        ctx.success(f"Added alias {added['address']} → {added['mailbox']}")
    else:  # re-running it is safe
        ctx.io.status(f"{added['address']} exists as an alias of {added['mailbox']}; nothing changed")
    ctx.render(added, COLUMNS)


@formerly(app, "remove")
@app.command()
def delete(alias: Annotated[str, typer.Argument(metavar="ALIAS", help="The alias address.")], yes: Yes = False,
           dry_run: DryRun = False):
    """Remove an alias; mail to it will bounce and the address becomes free.

    Examples:

      egactl mail alias delete registration@rita.go.tz --dry-run

      egactl mail alias delete registration@rita.go.tz --yes
    """
    ctx = context.get()
    alias = enforce(rules.parse_address, alias, flag="ALIAS")
    owner, etag = client.get_mailbox_with_etag(ctx.api(), alias)
    if alias not in (owner.get("aliases") or []):
        raise NotFound(f"alias {alias} not found" + (f" ({alias} is the mailbox's own address)"
                                                      if owner["address"] == alias else ""))
    if dry_run:
        ctx.io.status(f"dry run: would remove alias {alias} of {owner['address']}; nothing was changed")
        return
    ctx.confirm(f"Remove alias {alias} of {owner['address']}? Mail to it will bounce", yes=yes)
    # The alias is part of its mailbox: removed only if the mailbox is still as shown (else 412, exit 5).
    removed = client.remove_alias(ctx.api(), alias, etag)
    ctx.success(f"Removed alias {removed['address']} (was → {removed['mailbox']})")
    ctx.render(removed, COLUMNS)
