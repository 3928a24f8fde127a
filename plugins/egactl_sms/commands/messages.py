"""egactl sms send / status / list: sending to numbers or a group, and looking messages up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, Conflict, DryRun, Institution, InvalidInput, Limit,
                               OldestFirst, context, old_flags, page_limit)
from egactl_sms import client, rules
from egactl_sms.commands.common import (BATCH_COLUMNS, Again, AllowQuietHours, At, Normalize, Sender, announce_delivery,
                                        check_sender, check_text, clip, complete_groups, complete_message_states,
                                        earlier, money, number, numbers, parse_at,
                                        read_text, refused_as_duplicate)

MESSAGE_COLUMNS = [Column("id"), Column("batch"), Column("to"), Column("state"), Column("segments"),
                   Column("created_at", "CREATED"), Column("reason", format=clip(60)),
                   # -o wide: who sent it, how, and when it went
                   Column("institution", wide=True), Column("sender", "FROM", wide=True),
                   Column("encoding", wide=True), Column("attempts", wide=True),
                   Column("submitted_at", "SUBMITTED", wide=True), Column("delivered_at", "DELIVERED", wide=True)]
MESSAGE_DETAIL = [Column("id"), Column("batch"), Column("institution"), Column("to"), Column("sender", "FROM"),
                  Column("state"), Column("reason"), Column("encoding"), Column("segments"), Column("text"),
                  Column("deliver_after", "DELIVER AFTER"), Column("created_at", "CREATED"),
                  Column("submitted_at", "SUBMITTED"), Column("delivered_at", "DELIVERED"),
                  Column("attempts"), Column("gateway_ref", "GATEWAY REF")]
State = Annotated[Optional[str], typer.Option("--state", "-s", metavar="STATE", autocompletion=complete_message_states,
                                               help=f"Only messages in this state: {', '.join(rules.STATES)}.")]
To = Annotated[Optional[str], typer.Option("--to", "-t", metavar="NUMBER", help="Only messages to this number.")]


def _short_list(values: Any) -> str:
    values = list(values or [])
    shown = ", ".join(values[:10])
    return shown + (f" … (+{len(values) - 10})" if len(values) > 10 else "")


DRY_RUN_COLUMNS = [
    Column("kind"), Column("institution"), Column("sender", "FROM"), Column("group"),
    Column("given", "NUMBERS GIVEN"), Column("duplicates"), Column("opted_out", "OPTED OUT"),
    Column("recipients", "WILL SEND TO"), Column("to", "RECIPIENTS", format=_short_list),
    Column("encoding"), Column("length", "LENGTH"), Column("segments_per_message", "SEGMENTS/MESSAGE"),
    Column("total_segments", "TOTAL SEGMENTS"), Column("estimated_cost", "ESTIMATED COST", format=money),
    Column("currency"), Column("deliver_after", "DELIVER AFTER"),
]


@old_flags({"-f": "--file"})
def send(message: Annotated[Optional[str], typer.Argument(metavar="[MESSAGE]",
                                                          help="The text; '-' or none: read it from stdin.")] = None,
         to: Annotated[Optional[list[str]], typer.Option("--to", "-t", metavar="NUMBER[,NUMBER…]",
                                                         help="Recipient(s): 0754…, +255754…; repeatable.")] = None,
         group: Annotated[Optional[str], typer.Option("--group", "-g", metavar="NAME", autocompletion=complete_groups,
                                                      help="Send to every member of this contact group.")] = None,
         file: Annotated[Optional[Path], typer.Option("--file", metavar="PATH",
                                                      help="Read the message from this UTF-8 file.")] = None,
         sender: Sender = None, at: At = None, allow_quiet_hours: AllowQuietHours = False,
         normalize: Normalize = False, institution: Institution = None, again: Again = False, dry_run: DryRun = False):
    """Send an SMS to one or more numbers (quick send) or to a contact group.

    The same text from the same sender to the same group within 24 hours is
    refused (exit 5, naming the earlier batch) unless --again is given.

    Examples:

      egactl sms send --to 0754123456 -i RITA "Cheti chako kiko tayari."

      egactl sms send --group wateja -i RITA "Ofisi itafungwa Ijumaa." --dry-run

      egactl sms send --group wateja -i RITA --file tangazo.txt --again
    """
    ctx = context.get()
    if bool(to) == bool(group):
        raise InvalidInput("give the recipients with --to NUMBER[,NUMBER…] or --group NAME (one of them)")
    inst = ctx.institution(institution)
    text = check_text(read_text(ctx, message, file), normalize)
    body: dict[str, Any] = {"institution": inst, "text": text, "sender": check_sender(sender), "at": parse_at(at),
                            "allow_quiet_hours": allow_quiet_hours, "normalize": normalize, "dry_run": dry_run,
                            "again": again}
    if to:
        recipients = numbers(to)
        if len(recipients) > rules.MAX_QUICK_RECIPIENTS:
            raise InvalidInput(f"{len(recipients)} numbers given; a quick send takes at most "
                               f"{rules.MAX_QUICK_RECIPIENTS}", hint="use a group or `egactl sms bulk`")
        body["to"] = recipients
    else:
        body["group"] = group
    what = f"this message to group {group!r}"
    try:
        out = client.send(ctx.api(), body)
    except Conflict as exc:
        raise refused_as_duplicate(exc, what) from None
    announce_delivery(ctx, {**out, "at": body["at"]})
    if dry_run:
        if out.get("duplicate_of"):
            ctx.warn(f"{what} was already sent as {earlier(out['duplicate_of'])}; "
                        f"sending it would be refused without --again")
        ctx.notice("dry run: nothing was sent")
        ctx.render(out, DRY_RUN_COLUMNS)
        return
    skipped = [f"{n} {what}" for what, n in (("duplicate", out["skipped"]["duplicate"]),
                                             ("opted out", out["skipped"]["opted_out"])) if n]
    note = f" (skipped: {', '.join(skipped)})" if skipped else ""
    if out["messages"] == 0:
        ctx.warn(f"nothing to send: every recipient was skipped{note}")
    else:
        ctx.success(f"Queued {out['messages']} message{'s' if out['messages'] != 1 else ''} from {out['sender']} "
                    f"as batch {out['id']}{note}")
    ctx.render(out, BATCH_COLUMNS)


def show(message_id: Annotated[int, typer.Argument(metavar="ID", help="Message id.")]):
    """Show one message: its state, and why if it failed.

    Examples:

      egactl sms show 1

      egactl sms show 2 -o json
    """
    ctx = context.get()
    ctx.render(client.message(ctx.api(), message_id), MESSAGE_DETAIL)


@old_flags({"--status": "--state"})
def list_(batch: Annotated[Optional[int], typer.Option("--batch", "-b", metavar="BATCH", help="Only this batch.")] = None,
          state: State = None, to: To = None, institution: Institution = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False, oldest_first: OldestFirst = False):
    """List messages, newest first, by batch, state or number.

    Examples:

      egactl sms list --batch 1

      egactl sms list --state failed --limit 5

      egactl sms list --to 0713200001 --oldest-first -o json
    """
    ctx = context.get()
    if state is not None and state not in rules.STATES:
        raise typer.BadParameter(f"must be one of {', '.join(rules.STATES)}", param_hint="--state")
    items = client.messages(ctx.api(), limit=page_limit(limit, all_), batch=batch, status=state,
                            oldest_first=True if oldest_first else None,
                            to=number(to) if to else None,
                            institution=institution.upper() if institution else None)
    ctx.render(items, MESSAGE_COLUMNS, empty="No messages match.")
