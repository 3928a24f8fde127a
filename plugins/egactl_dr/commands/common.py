"""What several dr commands share: naming a system, option types, reading
--ca-bundle and TIME options, and small formatters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from egactl.plugin.cli import InvalidInput, complete_from, context, enforce
from egactl_dr import rules

complete_systems = complete_from("/api/v1/dr/systems", "system", "criticality")
"""TAB completes INSTITUTION/NAME from the inventory (the systems the caller may see)."""


def complete_among(values) -> Any:
    """TAB completes one of a fixed list of words (states, criticalities, fields)."""

    def complete(incomplete: str) -> list[tuple[str, str]]:
        return [(v, "") for v in values if v.startswith(incomplete)]

    return complete


SystemArg = Annotated[str, typer.Argument(metavar="SYSTEM", autocompletion=complete_systems,
                                          help="INSTITUTION/NAME, e.g. RITA/crvs (or NAME with --institution).")]

STATE_STYLE = {"OK": "green", "WARNING": "yellow", "CRITICAL": "bold red", "UNKNOWN": "magenta"}


def system_ref(ctx: Any, ref: str, institution_flag: str | None) -> tuple[str, str]:
    """A SYSTEM argument as (institution, name): ``RITA/crvs``, or ``crvs`` with
    ``--institution`` or the profile's default institution."""
    return enforce(rules.split_system_ref, ref, ctx.institution(institution_flag, required=False))


def read_ca_bundle(path: Path | None) -> str | None:
    """A --ca-bundle file, read and checked before anything is sent or probed."""
    if path is None:
        return None
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read --ca-bundle {path}: {exc}") from None
    return enforce(rules.normalise_ca_bundle, text, flag=f"--ca-bundle {path}")


def when(value: str | None, flag: str) -> str | None:
    """A TIME option (how long ago: 90m, 2h, 3d; or a time as egactl shows them, East Africa Time unless it
    names a zone: 2026-11-20 11:30) as the RFC 3339 time the API takes, in UTC as the API writes times."""
    if value is None:
        return None
    return enforce(rules.parse_time, value, context.get().now(), flag=flag).astimezone(dt.timezone.utc).isoformat()


def minutes(value: Any) -> str:
    return rules.format_minutes(value) if value is not None else ""


def days_ago(value: Any) -> str:
    if value is None:
        return "never"
    return "today" if value == 0 else f"{value} d ago"


def approved(value: Any) -> str:
    return {True: "approved", False: "NOT APPROVED", None: ""}[value]
