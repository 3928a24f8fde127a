"""egactl esb apis list / show / create: the bus's API codes (the emulator's registry)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, DryRun, Institution, InvalidInput, Limit, context, enforce,
                               page_limit)
from egactl_esb import client

LIST_COLUMNS = [Column("code"), Column("institution", "PROVIDER"), Column("format"), Column("consumers"),
                Column("endpoint", wide=True), Column("description", wide=True), Column("created_at", "CREATED", wide=True)]
DETAIL = [Column("code"), Column("institution", "PROVIDER"), Column("endpoint"), Column("format"), Column("consumers"),
          Column("description"), Column("created_at", "CREATED"), Column("created_by", "CREATED BY")]

CodeArg = Annotated[str, typer.Argument(metavar="CODE", help="The API code, e.g. RITA-BIRTH-VERIFY.", show_default=False)]


def list_(institution: Institution = None, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List the API codes an institution provides or consumes (all of them for admins and the help desk).

    Examples:

      egactl esb apis list

      egactl esb apis list -i TRA -o wide

      egactl esb apis list -o json --query "[].code"
    """
    ctx = context.get()
    inst = ctx.institution(institution, required=False)
    items = client.list_apis(ctx.api(), institution=inst, limit=page_limit(limit, all_))
    ctx.render(items, LIST_COLUMNS, empty="No API codes match.")


def show(code: CodeArg):
    """Show who serves an API code: its provider, endpoint, format and consumers.

    Examples:

      egactl esb apis show RITA-BIRTH-VERIFY

      egactl esb apis show RITA-BIRTH-VERIFY -o json --query endpoint
    """
    from egactl_esb import rules

    ctx = context.get()
    enforce(rules.check_api_code, code, flag="CODE")
    ctx.render(client.show_api(ctx.api(), code), DETAIL)


def create(code: CodeArg,
           endpoint: Annotated[str, typer.Option("--endpoint", metavar="URL", show_default=False,
                                                 help="Where the bus sends the code's requests (the provider's system).")],
           institution: Institution = None,
           format_: Annotated[str, typer.Option("--format", metavar="FORMAT", help="json or xml.")] = "json",
           consumer: Annotated[Optional[list[str]], typer.Option("--consumer", metavar="CODE",
                                                                 help="An institution that may call it (repeat the flag).")] = None,
           description: Annotated[Optional[str], typer.Option("--description", metavar="TEXT",
                                                              help="What the API answers.")] = None,
           dry_run: DryRun = False):
    """Register an API code: its provider institution (-i), endpoint, format and consumers.

    Operators register codes their institution provides; admins any. Re-running
    the same create is "exists", exit 0; a code held with other values is exit 5.

    Examples:

      egactl esb apis create RITA-DEATH-VERIFY -i RITA --endpoint https://crvs.rita.go.tz/esb --consumer TRA --consumer NIDA

      egactl esb apis create TRA-RECEIPTS -i TRA --endpoint https://idras.tra.go.tz/esb/receipts --format xml --dry-run
    """
    from egactl_esb import rules

    ctx = context.get()
    inst = ctx.institution(institution)
    enforce(rules.check_api_code, code, flag="CODE")
    enforce(rules.check_endpoint, endpoint, flag="--endpoint")
    enforce(rules.check_format, format_, flag="--format")
    consumers = sorted({c.strip().upper() for c in consumer or [] if c.strip()})
    if description is not None and len(description) > 200:
        raise InvalidInput("--description: at most 200 characters")
    body = {"code": code, "institution": inst, "endpoint": endpoint, "format": format_, "consumers": consumers,
            "description": description}
    record = client.create_api(ctx.api(), body, dry_run=dry_run)
    ctx.success(f"{'Would register' if dry_run else 'Registered'} API code {code}, provided by {inst}")
    ctx.render(record, DETAIL)
