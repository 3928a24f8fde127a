"""Option types and small formatters the dr commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from egactl.plugin.cli import InvalidInput
from egactl_dr import validation

SystemArg = Annotated[str, typer.Argument(metavar="SYSTEM",
                                          help="INSTITUTION/NAME, e.g. RITA/crvs (or NAME with --institution).")]

STATE_STYLE = {"OK": "green", "WARNING": "yellow", "CRITICAL": "bold red", "UNKNOWN": "magenta"}


def rule(func, value: Any, flag: str) -> Any:
    """Apply a shared rule to a flag's value; a broken rule is a usage error naming the flag."""
    if value is None:
        return None
    try:
        return func(value)
    except validation.RuleError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None


def read_ca_bundle(path: Path | None, flag: str = "--ca-bundle") -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read CA bundle {path}: {exc}") from None
    return rule(validation.check_ca_bundle, text, flag)


def minutes(value: Any) -> str:
    return validation.format_minutes(value) if value is not None else ""


def day(value: Any) -> str:
    """An ISO timestamp shown to the minute, in UTC."""
    return str(value)[:16].replace("T", " ") if value else ""


def days_ago(value: Any) -> str:
    if value is None:
        return "never"
    return "today" if value == 0 else f"{value} d ago"


def approved(value: Any) -> str:
    return {True: "approved", False: "NOT APPROVED", None: ""}[value]
