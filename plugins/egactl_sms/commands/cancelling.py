"""egactl sms cancel: stop what has not gone out yet."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import Column, DryRun, InvalidInput, Yes, context
from egactl_sms import client, validation
from egactl_sms.commands.common import eat

CANCEL_COLUMNS = [Column("batch"), Column("institution"), Column("cancelled"),
                  Column("handed_over", "HANDED OVER (LEFT ALONE)")] + [
    Column(f"states.{s}", s.upper()) for s in validation.STATES] + [
    Column("cancelled_at", "CANCELLED AT", format=eat), Column("cancelled_by", "CANCELLED BY")]
MESSAGE_COLUMNS = [Column("id"), Column("batch"), Column("to"), Column("state"), Column("reason"),
                   Column("deliver_after", "DELIVER AFTER", format=eat)]


def _plural(n: int, noun: str = "message") -> str:
    return f"{n:,} {noun}{'s' if n != 1 else ''}"


def cancel(batch_id: Annotated[Optional[int], typer.Argument(metavar="BATCH",
                                                             help="Batch id (shown by send and bulk).")] = None,
           message: Annotated[Optional[int], typer.Option("--message", "-m", metavar="ID",
                                                          help="Cancel this one message instead of a batch.")] = None,
           yes: Yes = False, dry_run: DryRun = False):
    """Cancel a send's messages that have not gone to the gateway yet.

    Queued and scheduled messages become `cancelled`; those already handed to
    the gateway (submitting, submitted, delivered) cannot be called back and
    are left alone, and counted. A cancelled batch takes no more recipients, so
    a bulk run still going stops with an error. Operators cancel their own
    institution's sends; the help desk cannot cancel.

    Examples:

      egactl sms cancel 12 --dry-run       # how many would be cancelled

      egactl sms cancel 12 --yes

      egactl sms cancel --message 4711
    """
    ctx = context.get()
    if (batch_id is None) == (message is None):
        raise InvalidInput("give the batch to cancel (BATCH) or one message (--message ID), not both or neither")
    api = ctx.api()
    if message is not None:
        preview = client.cancel_message(api, message, dry_run=True)
        if dry_run:
            ctx.io.status(f"dry run: message {message} would be cancelled" if preview["cancelled"]
                          else f"dry run: message {message} is already cancelled")
            ctx.render(preview, MESSAGE_COLUMNS)
            return
        if preview["cancelled"]:
            ctx.confirm(f"Cancel message {message} to {preview['to']}?", yes=yes)
        out = client.cancel_message(api, message)
        if out["cancelled"]:
            ctx.success(f"Cancelled message {message}")
        else:
            ctx.io.status(f"message {message} was already cancelled")
        ctx.render(out, MESSAGE_COLUMNS)
        return
    assert batch_id is not None
    preview = client.cancel_batch(api, batch_id, dry_run=True)
    left_alone = (f"; {_plural(preview['handed_over'])} already handed to the gateway cannot be called back"
                  if preview["handed_over"] else "")
    if dry_run:
        ctx.io.status(f"dry run: would cancel {_plural(preview['cancelled'])} of batch {batch_id}{left_alone}")
        ctx.render(preview, CANCEL_COLUMNS)
        return
    if preview["cancelled"]:
        ctx.confirm(f"Cancel {_plural(preview['cancelled'])} of batch {batch_id} not yet sent?", yes=yes)
    out = client.cancel_batch(api, batch_id)
    left_alone = (f"; {_plural(out['handed_over'])} already handed to the gateway were left alone"
                  if out["handed_over"] else "")
    ctx.success(f"Batch {batch_id}: cancelled {_plural(out['cancelled'])}{left_alone}")
    ctx.render(out, CANCEL_COLUMNS)
