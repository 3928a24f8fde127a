"""Options, columns and checks the sms commands share."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import Column, Conflict, InvalidInput, complete_from, enforce, time_for_people
from egactl.plugin.rules import RuleError, check_institution_code, normalise_msisdn, time_from_people
from egactl_sms import rules

# Completion of values (the API's, cached briefly by the core; never an error while typing).
complete_senders = complete_from("/api/v1/sms/senders", "name", "institution")
complete_approved_senders = complete_from("/api/v1/sms/senders", "name", "institution", status="approved")
complete_groups = complete_from("/api/v1/sms/groups", "name", "institution")


def complete_message_states(incomplete: str) -> list[tuple[str, str]]:
    return [(s, "") for s in rules.STATES if s.startswith(incomplete)]


def complete_sender_states(incomplete: str) -> list[tuple[str, str]]:
    return [(s, "") for s in rules.SENDER_STATES if s.startswith(incomplete)]


Sender = Annotated[Optional[str], typer.Option("--from", metavar="SENDER", autocompletion=complete_approved_senders,
                                               help="Approved sender ID (default: the institution's only one).")]
At = Annotated[Optional[str], typer.Option("--at", metavar="WHEN",
                                           help='Send at this time: "YYYY-MM-DD HH:MM" in East Africa Time '
                                                '(as egactl shows times, "… EAT" too), or followed by a zone '
                                                '("… UTC", "… Europe/London").')]
Again = Annotated[bool, typer.Option("--again", help="Send even though the same send was made before "
                                                     "(a bulk: same file, template, sender and schedule; a group: "
                                                     "same group, text and sender within 24 hours).")]
AllowQuietHours = Annotated[bool, typer.Option("--allow-quiet-hours",
                                               help="Deliver group and bulk sends between 21:00 and 07:00 EAT too.")]
Normalize = Annotated[bool, typer.Option("--normalize",
                                         help="Replace typographic characters (’ “ ” – …) with plain ones, "
                                              "so the text stays GSM-7.")]


def clip(width: int):
    """A column format: the value on one line, cut to ``width`` characters."""
    def fmt(value) -> str:
        text = "" if value is None else str(value).replace("\n", " ")
        return text if len(text) <= width else text[:width - 1] + "…"
    return fmt


def plural(n: int, noun: str = "message") -> str:
    return f"{n:,} {noun}{'s' if n != 1 else ''}"


def money(record_value: Any) -> str:
    return "" if record_value is None else f"{record_value:,.2f}"


BATCH_COLUMNS = [
    Column("id", "BATCH"), Column("kind"), Column("institution"), Column("sender", "FROM"),
    Column("group"), Column("source"), Column("messages"), Column("segments"),
    Column("estimated_cost", "COST", format=money), Column("currency"),
    Column("skipped.duplicate", "DUPLICATES"), Column("skipped.opted_out", "OPTED OUT"),
    Column("deliver_after", "DELIVER AFTER"), Column("created_at", "CREATED"),
    Column("cancelled_at", "CANCELLED"),
]


def earlier(d: dict) -> str:
    """An earlier send of the same thing (the backend's ``duplicate_of``), for people."""
    states = ", ".join(f"{n:,} {s}" for s, n in (d.get("states") or {}).items()) or "no messages yet"
    n = d.get("messages") or 0
    return (f"batch {d['batch']} ({time_for_people(d.get('created_at'))}, "
            f"{n:,} message{'s' if n != 1 else ''}: {states}"
            f"{'; the batch was cancelled' if d.get('cancelled') else ''})")


def refused_as_duplicate(exc: Conflict, what: str) -> Conflict:
    """The server's refusal of a repeated send, as one line for people."""
    previous = (exc.problem or {}).get("duplicate_of")
    if not previous:
        return exc
    return Conflict(f"{what} was already sent as {earlier(previous)}; nothing was sent",
                    hint="pass --again to send it again", problem=exc.problem)


def check_sender(sender: str | None) -> str | None:
    """--from: the sender ID as given (surrounding spaces aside), or exit 2."""
    return None if sender is None else enforce(rules.sender_id, sender)


def parse_at(at: str | None) -> str | None:
    """--at, read as people type times (the SDK's ``time_from_people``: East Africa Time unless it names a
    zone; the form egactl shows times in), as the RFC 3339 time in UTC the API takes; or exit 2."""
    return None if at is None else enforce(time_from_people, at, "--at").astimezone(dt.timezone.utc).isoformat()


def institution_code(ctx: Any, flag: str | None) -> str:
    """--institution (or the profile's), checked: it becomes a segment of an API path."""
    return enforce(check_institution_code, ctx.institution(flag), flag="--institution")


def group_ref(ctx: Any, institution: str | None, name: str) -> tuple[str, str]:
    """(institution, group name) of a group named on the command line, checked before either
    becomes a segment of an API path (a '/' in one would be read as another path)."""
    return institution_code(ctx, institution), enforce(rules.group_name, name)


def number(raw: str) -> str:
    """One number from a flag or argument (a filter, an opt-out), normalised or exit 2."""
    return enforce(rules.recipient, raw)


def split_numbers(values: list[str] | tuple[str, ...]) -> list[str]:
    """``--to a,b --to c`` → [a, b, c]."""
    out: list[str] = []
    for value in values:
        out += [v.strip() for v in value.split(",") if v.strip()]
    return out


def numbers(raw: list[str]) -> list[str]:
    """Every number checked before anything is sent; all the bad ones named in one line."""
    good, bad = [], []
    for value in split_numbers(raw):
        try:
            good.append(normalise_msisdn(value))
        except RuleError as exc:
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
    if problem := rules.check_message(text):
        raise InvalidInput(f"{problem}; nothing was sent")
    return text


def announce_delivery(ctx: Any, out: dict) -> None:
    """Tell people when it will go: scheduled, or held by quiet hours."""
    for warning in out.get("warnings") or []:
        ctx.warn(warning)
    if out.get("waits_for_quiet_hours"):
        ctx.notice(f"quiet hours ({rules.QUIET_HOURS}): delivery starts {time_for_people(out.get('deliver_after'))} "
                      f"(pass --allow-quiet-hours for urgent messages)")
    elif out.get("scheduled_at") or out.get("at"):
        ctx.notice(f"scheduled for {time_for_people(out.get('deliver_after'))}")
