"""What several ussd commands share: the CODE argument, --reason, and how a
timestamp reads for people."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from egactl.plugin.cli import enforce
from egactl_ussd import rules

Code = Annotated[str, typer.Argument(metavar="CODE", help="The code: *152*07#, 152*07, 07 or 7.")]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit log and shown by `history`).")]


def parse_code(text: str) -> int:
    """A code as typed → its number; a usage error (exit 2) naming the range otherwise."""
    return enforce(rules.parse_code, text)


def when(value: Any) -> str:
    """ISO timestamps as people read them; scripts get the ISO form in JSON/CSV."""
    if not value:
        return ""
    text = str(value)
    return text[:16].replace("T", " ") + " UTC" if len(text) >= 16 else text
