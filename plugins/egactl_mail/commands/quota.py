"""egactl mail quota: mailbox sizes (usage is shown by `egactl mail show`)."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import DryRun, context
from egactl_mail import client
from egactl_mail import validation as v
from egactl_mail.commands import views
from egactl_mail.commands.mailboxes import Ref

app = typer.Typer(help="Mailbox quotas.", no_args_is_help=True)


@app.command("set")
def set_(ref: Ref, size: Annotated[str, typer.Argument(metavar="SIZE", help="e.g. 5G, 512M, or megabytes.")],
         dry_run: DryRun = False):
    """Set a mailbox's quota."""
    ctx = context.get()
    try:
        mb = v.parse_quota(size)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="SIZE") from None
    path = client.mailbox_path(ref)
    current = ctx.api().get(path)
    if current["used_mb"] > mb:
        ctx.io.warn(f"{current['address']} already holds {v.format_size(current['used_mb'])}, more than "
                    f"{v.format_size(mb)}: new mail will be refused until it shrinks")
    if dry_run:
        ctx.io.status(f"dry run: would set the quota of {current['address']} from "
                      f"{v.format_size(current['quota_mb'])} to {v.format_size(mb)}; nothing was changed")
        return
    updated = ctx.api().update(path, {"quota_mb": mb})
    ctx.success(f"Quota of {updated['address']} is now {v.format_size(updated['quota_mb'])}")
    views.mailbox(ctx, updated, detail=True)
