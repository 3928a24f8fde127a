"""egactl sms optout …: numbers that asked to receive nothing more from an institution."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, DryRun, Institution, Limit, Yes, context, formerly,
                               old_flags, page_limit)
from egactl_sms import client
from egactl_sms.commands.common import institution_code, number

app = typer.Typer(help="Opt-outs: numbers skipped at every send of an institution.", no_args_is_help=True)

COLUMNS = [Column("id", wide=True), Column("phone"), Column("institution"), Column("reason"),
           Column("created_by", "BY"), Column("created_at", "SINCE")]
Number = Annotated[str, typer.Argument(metavar="NUMBER", help="0754…, +255754…")]


@formerly(app, "add")
@app.command("create")
def create(phone: Number, institution: Institution = None,
        reason: Annotated[Optional[str], typer.Option("--reason", "-r", metavar="TEXT",
                                                      help="e.g. 'replied STOP'.")] = None,
        dry_run: DryRun = False):
    """Stop sending to a number (it is skipped at every later send, and at delivery).

    Examples:

      egactl sms optout create 0754123456 -i RITA --reason "replied STOP"

      egactl sms optout create 0713200001 -i RITA --dry-run
    """
    ctx = context.get()
    body = {"institution": ctx.institution(institution), "phone": number(phone), "reason": reason}
    if dry_run:
        ctx.notice(f"dry run: would opt {body['phone']} out of {body['institution']}'s messages")
        return
    out = client.add_optout(ctx.api(), body)
    if out.get("already"):
        ctx.success(f"{out['phone']} had already opted out of {out['institution']}'s messages")
    else:
        ctx.success(f"{out['phone']} will receive no more messages from {out['institution']}")
    ctx.render(out, COLUMNS)


@formerly(app, "remove")
@app.command("delete")
def delete(phone: Number, institution: Institution = None, yes: Yes = False, dry_run: DryRun = False):
    """Let a number receive messages again (when the citizen asks for it).

    Examples:

      egactl sms optout delete 0713200003 -i RITA --dry-run

      egactl sms optout delete 0713200003 -i RITA --yes
    """
    ctx = context.get()
    inst = institution_code(ctx, institution)
    e164 = number(phone)
    if dry_run:
        ctx.notice(f"dry run: would let {e164} receive {inst}'s messages again")
        return
    ctx.confirm(f"Let {e164} receive {inst}'s messages again?", yes=yes)
    client.remove_optout(ctx.api(), inst, e164)
    ctx.success(f"{e164} will receive {inst}'s messages again")


@app.command("list")
@old_flags({"-p": "--phone"})
def list_(institution: Institution = None,
          phone: Annotated[Optional[str], typer.Option("--phone", metavar="NUMBER", help="Only this number.")] = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List opted-out numbers.

    Examples:

      egactl sms optout list -i RITA

      egactl sms optout list --phone 0713200003 -o json
    """
    ctx = context.get()
    items = client.optouts(ctx.api(), limit=page_limit(limit, all_),
                           institution=institution.upper() if institution else None,
                           phone=number(phone) if phone else None)
    ctx.render(items, COLUMNS, empty="No opt-outs match.")
