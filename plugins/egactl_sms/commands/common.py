"""Options, columns and checks the sms commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import Column, InvalidInput
from egactl_sms import validation

Sender = Annotated[Optional[str], typer.Option("--from", metavar="SENDER",
                                               help="Approved sender ID (default: the institution's only one).")]
At = Annotated[Optional[str], typer.Option("--at", metavar="WHEN",
                                           help='Send at this time: "YYYY-MM-DD HH:MM" in East Africa Time, '
                                                'or followed by a zone ("… UTC", "… Europe/London").')]
AllowQuietHours = Annotated[bool, typer.Option("--allow-quiet-hours",
                                               help="Deliver group and bulk sends between 21:00 and 07:00 EAT too.")]
Normalize = Annotated[bool, typer.Option("--normalize",
                                         help="Replace typographic characters (’ “ ” – …) with plain ones, "
                                              "so the text stays GSM-7.")]


def eat(value: Any) -> str:
    return validation.format_eat(value)


def money(record_value: Any) -> str:
    return "" if record_value is None else f"{record_value:,.2f}"


BATCH_COLUMNS = [
    Column("id", "BATCH"), Column("kind"), Column("institution"), Column("sender", "FROM"),
    Column("group"), Column("source"), Column("messages"), Column("segments"),
    Column("estimated_cost", "COST", format=money), Column("currency"),
    Column("skipped.duplicate", "DUPLICATES"), Column("skipped.opted_out", "OPTED OUT"),
    Column("deliver_after", "DELIVER AFTER", format=eat), Column("created_at", "CREATED", format=eat),
    Column("cancelled_at", "CANCELLED", format=eat),
]


def check_sender(sender: str | None) -> str | None:
    if sender is None:
        return None
    sender = sender.strip()
    if problem := validation.check_sender_id(sender):
        raise InvalidInput(problem)
    return sender


def parse_at(at: str | None) -> str | None:
    if at is None:
        return None
    try:
        return validation.parse_at(at).isoformat()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def number(raw: str, *, sending: bool = True) -> str:
    """One number from a flag or argument, normalised or exit 2."""
    try:
        return validation.normalize_msisdn(raw)
    except validation.InvalidNumber as exc:
        raise InvalidInput(f"invalid number {exc}" + ("; nothing was sent" if sending else "")) from None


def numbers(raw: list[str]) -> list[str]:
    """Every number checked before anything is sent; all the bad ones named in one line."""
    good, bad = [], []
    for value in validation.split_numbers(raw):
        try:
            good.append(validation.normalize_msisdn(value))
        except validation.InvalidNumber as exc:
            bad.append(str(exc))
    if bad:
        more = f" (and {len(bad) - 1} more: {'; '.join(bad[1:4])}{' …' if len(bad) > 4 else ''})" if len(bad) > 1 else ""
        raise InvalidInput(f"invalid number {bad[0]}{more}; nothing was sent")
    if not good:
        raise InvalidInput("no number given")
    return good


def read_text(ctx: Any, message: str | None, file: Path | None) -> str:
    """The message: the argument, --file, or stdin ('-' or no argument)."""
    if message is not None and message != "-" and file is not None:
        raise InvalidInput("give the message either as an argument or with --file, not both")
    if file is not None:
        try:
            text = file.read_text("utf-8")
        except FileNotFoundError:
            raise InvalidInput(f"{file}: no such file") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{file}: not UTF-8 text") from None
        except OSError as exc:
            raise InvalidInput(f"{file}: {exc.strerror}") from None
        return text.rstrip("\r\n")
    if message is not None and message != "-":
        return message
    if ctx.io.interactive:
        raise InvalidInput("no message given", hint="pass it as an argument, with --file, or on stdin")
    return ctx.io.inp.read().rstrip("\r\n")


def check_text(text: str, normalize: bool) -> str:
    from egactl_sms import encoding

    if normalize:
        text = encoding.normalize(text)
    if problem := validation.check_message(text):
        raise InvalidInput(f"{problem}; nothing was sent")
    return text


def announce_delivery(ctx: Any, out: dict) -> None:
    """Tell people when it will go: scheduled, or held by quiet hours."""
    for warning in out.get("warnings") or []:
        ctx.io.warn(warning)
    if out.get("waits_for_quiet_hours"):
        ctx.io.status(f"quiet hours ({validation.QUIET_HOURS}): delivery starts {eat(out.get('deliver_after'))} "
                      f"(pass --allow-quiet-hours for urgent messages)")
    elif out.get("scheduled_at") or out.get("at"):
        ctx.io.status(f"scheduled for {eat(out.get('deliver_after'))}")
