"""egactl mail quota: mailbox sizes (usage is shown by `egactl mail show`)."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import DryRun, context, enforce
from egactl_mail import client, rules
from egactl_mail.commands import common
from egactl_mail.commands.common import Ref

app = typer.Typer(help="Mailbox quotas.", no_args_is_help=True)


@app.command("set")
def set_(ref: Ref, size: Annotated[str, typer.Argument(metavar="SIZE", help="e.g. 5G, 512M, or megabytes.")],
         dry_run: DryRun = False):
    """Set a mailbox's quota (it warns when the mailbox already holds more).

    Examples:

      egactl mail quota set juma.mrisho@rita.go.tz 5G

      egactl mail quota set 111000002 1G --dry-run
    """
    ctx = context.get()
    mb = enforce(rules.parse_quota, size, flag="SIZE")
    api = ctx.api()
    current = client.get_mailbox(api, ref)
    if current["used_mb"] > mb:
        ctx.io.warn(f"{current['address']} already holds {rules.format_size(current['used_mb'])}, more than "
                    f"{rules.format_size(mb)}: new mail will be refused until it shrinks")
    if dry_run:
        ctx.io.status(f"dry run: would set the quota of {current['address']} from "
                      f"{rules.format_size(current['quota_mb'])} to {rules.format_size(mb)}; nothing was changed")
        return
    updated = client.update_mailbox(api, ref, {"quota_mb": mb})
    ctx.success(f"Quota of {updated['address']} is now {rules.format_size(updated['quota_mb'])}")
    common.mailbox(ctx, updated, detail=True)
