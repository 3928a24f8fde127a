"""egactl sms status / list / report / batches / outbox: read-only look-ups (help desk included)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, Column, Institution, Limit, context, page_limit
from egactl_sms import client, validation
from egactl_sms.commands.common import BATCH_COLUMNS, eat, number


def _clip(width: int):
    def fmt(value) -> str:
        text = "" if value is None else str(value).replace("\n", " ")
        return text if len(text) <= width else text[:width - 1] + "…"
    return fmt


MESSAGE_COLUMNS = [Column("id"), Column("batch"), Column("to"), Column("state"), Column("segments"),
                   Column("created_at", "CREATED", format=eat), Column("reason", format=_clip(60))]
MESSAGE_DETAIL = [Column("id"), Column("batch"), Column("institution"), Column("to"), Column("sender", "FROM"),
                  Column("state"), Column("reason"), Column("encoding"), Column("segments"), Column("text"),
                  Column("deliver_after", "DELIVER AFTER", format=eat), Column("created_at", "CREATED", format=eat),
                  Column("submitted_at", "SUBMITTED", format=eat), Column("delivered_at", "DELIVERED", format=eat),
                  Column("attempts"), Column("gateway_ref", "GATEWAY REF")]
REPORT_COLUMNS = BATCH_COLUMNS[:6] + [Column("messages")] + [
    Column(f"states.{s}", s.upper()) for s in validation.STATES] + [
    Column("skipped.duplicate", "SKIPPED DUPLICATES"), Column("skipped.opted_out", "SKIPPED OPTED OUT"),
    Column("skipped.invalid", "SKIPPED INVALID"), Column("segments"),
    Column("estimated_cost", "COST", format=BATCH_COLUMNS[8].format), Column("currency"),
    Column("deliver_after", "DELIVER AFTER", format=eat), Column("created_at", "CREATED", format=eat)]
OUTBOX_COLUMNS = [Column("id"), Column("sent_at", "SENT", format=eat), Column("sender", "FROM"), Column("to"),
                  Column("segments"), Column("text", format=_clip(70))]

Status = Annotated[Optional[str], typer.Option("--status", "-s", metavar="STATE",
                                               help=f"Only messages in this state: {', '.join(validation.STATES)}.")]
To = Annotated[Optional[str], typer.Option("--to", "-t", metavar="NUMBER", help="Only messages to this number.")]


def status(message_id: Annotated[int, typer.Argument(metavar="ID", help="Message id.")]):
    """Show one message: its state, and why if it failed."""
    ctx = context.get()
    ctx.render(client.message(ctx.api(), message_id), MESSAGE_DETAIL)


def list_(batch: Annotated[Optional[int], typer.Option("--batch", "-b", metavar="BATCH", help="Only this batch.")] = None,
          state: Status = None, to: To = None, institution: Institution = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List messages (oldest first), by batch, state or number."""
    ctx = context.get()
    if state is not None and state not in validation.STATES:
        raise typer.BadParameter(f"must be one of {', '.join(validation.STATES)}", param_hint="--status")
    items = client.messages(ctx.api(), limit=page_limit(limit, all_), batch=batch, status=state,
                            to=number(to, sending=False) if to else None,
                            institution=institution.upper() if institution else None)
    ctx.render(items, MESSAGE_COLUMNS, empty="No messages match.")


def report(batch_id: Annotated[int, typer.Argument(metavar="BATCH", help="Batch id (shown by send and bulk).")]):
    """Count a batch's messages per state, with the commonest failure reasons."""
    ctx = context.get()
    data = client.batch(ctx.api(), batch_id)
    ctx.render(data, REPORT_COLUMNS)
    if ctx.fmt == "table" and data.get("failure_reasons") and not ctx.query:
        ctx.io.out.write("\n")
        ctx.render(data["failure_reasons"], [Column("state"), Column("count"), Column("reason")])


def batches(institution: Institution = None,
            kind: Annotated[Optional[str], typer.Option("--kind", metavar="KIND", help="quick, group or bulk.")] = None,
            limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List sends (batches), oldest first."""
    ctx = context.get()
    if kind is not None and kind not in ("quick", "group", "bulk"):
        raise typer.BadParameter("must be quick, group or bulk", param_hint="--kind")
    items = client.batches(ctx.api(), limit=page_limit(limit, all_), kind=kind,
                           institution=institution.upper() if institution else None)
    ctx.render(items, BATCH_COLUMNS, empty="No batches match.")


def outbox(institution: Institution = None, to: To = None,
           batch: Annotated[Optional[int], typer.Option("--batch", "-b", metavar="BATCH", help="Only this batch.")] = None,
           limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """In the sandbox: what would have gone out (the outbox driver's record)."""
    ctx = context.get()
    items = client.outbox(ctx.api(), limit=page_limit(limit, all_), batch=batch, to=number(to, sending=False) if to else None,
                          institution=institution.upper() if institution else None)
    if not items and ctx.fmt == "table" and ctx.io.out_tty:
        settings = client.settings(ctx.api())
        if settings.get("driver") != "outbox":
            ctx.io.status(f"this backend delivers with the {settings.get('driver')} driver; the outbox is used only "
                          f"by the outbox driver (the sandbox)")
    ctx.render(items, OUTBOX_COLUMNS, empty="The outbox is empty.")
