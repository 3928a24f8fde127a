"""Option types shared by every command, so the same flag means the same thing everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from egactl.completion_values import complete_institutions

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed in scripts).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]
Limit = Annotated[int, typer.Option("--limit", "-L", min=1, help="Show at most this many records.")]
All = Annotated[bool, typer.Option("--all", help="Follow every page (ignore --limit).")]
OldestFirst = Annotated[bool, typer.Option("--oldest-first", help="Oldest first (lists where time matters are newest first).")]


def institution_code(value: str, where: str = "--institution") -> str:
    """An institution code, upper-cased, or exit 2 naming ``where`` it came from: it becomes
    part of API paths, so ``RITA/x`` or ``../pools`` must never reach one."""
    from egactl.errors import InvalidInput
    from egactl.rules import check_institution_code

    code = value.strip().upper()
    if problem := check_institution_code(code):
        raise InvalidInput(f"{where}: {problem}")  # one line, exit 2, like every bad value
    return code


def _institution_code(value: Optional[str]) -> Optional[str]:
    """The -i/--institution callback: the code is checked as it is typed."""
    return None if value is None else institution_code(value)


Institution = Annotated[Optional[str], typer.Option("--institution", "-i", metavar="CODE", callback=_institution_code,
                                                    autocompletion=complete_institutions,
                                                    help="Institution code (default: the profile's institution).")]
Watch = Annotated[Optional[float], typer.Option(
    "--watch", metavar="[SECONDS]",
    help="Keep reading and show changes every SECONDS (default 5) until it settles; Ctrl-C stops.")]
SkipInvalid = Annotated[bool, typer.Option("--skip-invalid", help="Send the valid rows and report the invalid ones.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run of the same job.")]
Restart = Annotated[bool, typer.Option("--restart", help="Discard an interrupted run and start from the first row.")]
Results = Annotated[Optional[Path], typer.Option("--results", metavar="FILE",
                                                 help="Where to write what happened to each row (.csv or .jsonl).")]
CsvFile = Annotated[Path, typer.Argument(metavar="FILE.csv", help="UTF-8 CSV with a header row.")]

DEFAULT_LIMIT = 30


def page_limit(limit: int, all_: bool) -> int | None:
    return None if all_ else limit
