"""egactl sms outbox: in the sandbox, what would have gone out."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, Column, Institution, Limit, context, page_limit
from egactl_sms import client
from egactl_sms.commands.common import clip, number
from egactl_sms.commands.messages import To

OUTBOX_COLUMNS = [Column("id"), Column("sent_at", "SENT"), Column("sender", "FROM"), Column("to"),
                  Column("segments"), Column("text", format=clip(70)),
                  # -o wide: where each entry came from
                  Column("institution", wide=True), Column("batch", wide=True), Column("message", wide=True),
                  Column("encoding", wide=True)]


def outbox(institution: Institution = None, to: To = None,
           batch: Annotated[Optional[int], typer.Option("--batch", "-b", metavar="BATCH", help="Only this batch.")] = None,
           limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """In the sandbox: what would have gone out (the outbox driver's record).

    Examples:

      egactl sms outbox --batch 1

      egactl sms outbox --to 0713200001 -o json
    """
    ctx = context.get()
    items = client.outbox(ctx.api(), limit=page_limit(limit, all_), batch=batch, to=number(to) if to else None,
                          institution=institution.upper() if institution else None)
    if not items and ctx.fmt == "table" and ctx.io.out_tty:
        settings = client.settings(ctx.api())
        if settings.get("driver") != "outbox":
            ctx.notice(f"this backend delivers with the {settings.get('driver')} driver; the outbox is used only "
                          f"by the outbox driver (the sandbox)")
    ctx.render(items, OUTBOX_COLUMNS, empty="The outbox is empty.")
