"""Option types shared by every command, so the same flag means the same thing everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from egactl.completion_values import complete_institutions

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed in scripts).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]
Limit = Annotated[int, typer.Option("--limit", "-L", min=1, help="Show at most this many records.")]
All = Annotated[bool, typer.Option("--all", help="Follow every page (ignore --limit), printing each as it arrives "
                                                   "(with --query: collected first).")]
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


PROFILE_INSTITUTION = "the profile's institution (`egactl config get institution`)"
INSTITUTION_RULE = ("Institution code. Default: the profile's institution (`egactl config set institution`), "
                    "if any; --all-institutions ignores it.")


def _institution_code(ctx: typer.Context, value: Optional[str]) -> Optional[str]:
    """The -i/--institution callback, the one rule for every command of every plugin:

    the code given, checked as it is typed; else the profile's institution, unless
    ``--all-institutions`` was given; else none (a listing shows every institution
    the caller may see, a change asks for one). A listing narrowed by the profile's
    institution says so on stderr, and that institution must exist.
    """
    if value is not None:
        return institution_code(value)
    if ctx.resilient_parsing:  # completing a command line: nothing is run
        return None
    from egactl import context
    from egactl.errors import InvalidInput

    egactl_ctx = context.get()
    if egactl_ctx.all_institutions:
        return None
    try:
        default = egactl_ctx.settings.institution
    except InvalidInput:
        return None  # a broken configuration is reported by whatever reads it next
    if not default:
        return None
    code = institution_code(default, PROFILE_INSTITUTION)
    if (ctx.info_name or "") in LISTING_VERBS:
        _check_default_exists(egactl_ctx, code)
        egactl_ctx.notice(f"showing {code} only (profile default); --all-institutions for all")
    return code


LISTING_VERBS = frozenset({"list", "batches", "outbox", "status", "report", "available"})
"""Commands that show many records, which the profile's institution narrows (with a notice)."""


def _check_default_exists(egactl_ctx, code: str) -> None:
    from egactl.errors import NotFound

    try:
        egactl_ctx.api().get(f"/api/v1/institutions/{code}")
    except NotFound:
        raise NotFound(f"{PROFILE_INSTITUTION} is {code}, which does not exist",
                       hint="set another with `egactl config set institution CODE`, or give -i CODE "
                            "or --all-institutions") from None


Institution = Annotated[Optional[str], typer.Option("--institution", "-i", metavar="CODE", callback=_institution_code,
                                                    autocompletion=complete_institutions, help=INSTITUTION_RULE)]
Watch = Annotated[Optional[float], typer.Option(
    "--watch", metavar="[SECONDS]",
    help="Keep reading and show changes every SECONDS (default 5) until it settles; Ctrl-C stops. "
         "A number right after --watch is SECONDS: give arguments first, or write --watch=SECONDS.")]
SkipInvalid = Annotated[bool, typer.Option("--skip-invalid", help="Send the valid rows and report the invalid ones.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run of the same job.")]
Restart = Annotated[bool, typer.Option("--restart", help="Discard an interrupted run and start from the first row.")]
Results = Annotated[Optional[Path], typer.Option("--results", metavar="FILE",
                                                 help="Where to write what happened to each row (.csv or .jsonl).")]
CsvFile = Annotated[Path, typer.Argument(metavar="FILE.csv", help="UTF-8 CSV with a header row.")]

DEFAULT_LIMIT = 30


def page_limit(limit: int, all_: bool) -> int | None:
    return None if all_ else limit
