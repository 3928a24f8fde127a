"""What several ussd commands share: the CODE argument, --reason, how a
timestamp reads for people, and the values the shell completes (codes in the
form being typed, networks)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from egactl.plugin.cli import complete_from, enforce, time_for_people
from egactl_ussd import rules


def complete_code(incomplete: str) -> list[tuple[str, str]]:
    """The codes (from the API, cached briefly), in the form being typed: ``07`` or ``7``
    for one or two digits, else ``152*07`` or ``*152*07#``; each with its holder, if any."""
    short = len(incomplete) <= 2 and "*" not in incomplete
    out = []
    for number, holder in complete_from("/api/v1/ussd/codes", "number", "institution")(""):
        if not number.isdigit():
            continue
        forms = ((number, str(int(number))) if short
                 else (f"{rules.PREFIX}*{number}", rules.canonical(int(number))))
        form = next((f for f in forms if f.startswith(incomplete)), None)
        if form is not None:
            out.append((form, holder))
    return out


def _as_typed(value: str, incomplete: str) -> str:
    """``value`` in the case being typed (shells match candidates case-sensitively;
    the commands take either case)."""
    return value.lower() if incomplete.islower() else value


def complete_network(incomplete: str) -> list[tuple[str, str]]:
    """The mobile networks, whatever the case typed, with the code a gateway sends for each."""
    typed = incomplete.lower()
    return [(_as_typed(n, incomplete), f"MCC+MNC {rules.NETWORK_CODES[n]}")
            for n in rules.NETWORKS if n.lower().startswith(typed)]


def complete_network_or_all(incomplete: str) -> list[tuple[str, str]]:
    everyone = [("all", "every network")] if "all".startswith(incomplete.lower()) else []
    return complete_network(incomplete) + everyone


def complete_institution(incomplete: str) -> list[tuple[str, str]]:
    """Institution codes (with their names), as -i/--institution completes them."""
    typed = incomplete.upper()
    return [(_as_typed(c, incomplete), n) for c, n in complete_from("/api/v1/institutions", "code", "name")("")
            if c.startswith(typed)]


Code = Annotated[str, typer.Argument(metavar="CODE", help="The code: *152*07#, 152*07, 07 or 7.",
                                     autocompletion=complete_code)]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit log and shown by `history`).")]


def parse_code(text: str) -> int:
    """A code as typed → its number; a usage error (exit 2) naming the range otherwise."""
    return enforce(rules.parse_code, text)


def when(value: Any) -> str:
    """Timestamps as people read them (East Africa Time); scripts get RFC 3339 in JSON/CSV."""
    return time_for_people(value) if value else ""
