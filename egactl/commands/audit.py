"""egactl audit: the log of every change."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Optional

import typer

from egactl import context
from egactl.errors import InvalidInput
from egactl.options import DEFAULT_LIMIT, All, Institution, Limit, OldestFirst, page_limit
from egactl.output import Column

app = typer.Typer(help="The log of every change: who, when, what, before and after.", no_args_is_help=True, add_completion=False)

COLUMNS = [Column("at"), Column("actor"), Column("role", wide=True), Column("action"), Column("resource_type", "RESOURCE"), Column("resource_id", "ID"),
           Column("institution"), Column("reason"), Column("request_id", "REQUEST")]


def parse_since(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """``30m``, ``24h``, ``7d``, ``2w``, or a time as people type them (``egactl.times.from_people``:
    East Africa Time unless it says otherwise, as egactl shows times)."""
    now = now or context.get().now()
    m = re.fullmatch(r"(\d+)\s*([mhdw])", value.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - dt.timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n})
    from egactl.times import from_people

    try:
        return from_people(value, "--since")
    except ValueError as exc:
        raise InvalidInput(f"{exc} (or how long ago: 30m, 24h, 7d)") from None


@app.callback()
def _group() -> None:
    """The log of every change: who, when, what, before and after."""


@app.command("list")
def list_(since: Annotated[Optional[str], typer.Option(help="Since a time: 24h, 7d, or 2026-11-01.")] = None,
          actor: Annotated[Optional[str], typer.Option(help="Only changes by this identity.")] = None,
          resource: Annotated[Optional[str], typer.Option(help="TYPE or TYPE/ID, e.g. institution/RITA.")] = None,
          action: Annotated[Optional[str], typer.Option(help="Only this action (create, update, delete, …).")] = None,
          institution: Institution = None, oldest_first: OldestFirst = False, limit: Limit = DEFAULT_LIMIT,
          all_: All = False):
    """List audit entries, newest first (--oldest-first for the other way).

    -o wide adds the actor's role.

    Examples:

      egactl audit list --limit 10

      egactl audit list --resource institution/RITA --since 7d -o json

      egactl audit list -i RITA --action update --oldest-first --all
    """
    ctx = context.get()
    rtype, _, rid = (resource or "").partition("/")
    items = ctx.api().list("/api/v1/audit", limit=page_limit(limit, all_),
                           since=parse_since(since).isoformat() if since else None, actor=actor,
                           resource_type=rtype or None, resource_id=rid or None, action=action,
                           institution=institution.upper() if institution else None,
                           oldest_first="true" if oldest_first else None)
    ctx.render(items, COLUMNS, empty="No audit entries match.")
