"""egactl govnet status: the onboarding pipeline at a glance."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, Institution, Limit, Watch, context, page_limit, watch,
                               watch_seconds)
from egactl_govnet import client, rules

WAITING = [Column("site"), Column("state"), Column("since"), Column("days_waiting", "DAYS"), Column("id", "REQUEST")]
IDLE = [Column("institution"), Column("name")]
COUNTS = [Column("state"), Column("count")]
IN_PROGRESS = (rules.REQUESTED, rules.APPROVED, rules.PROVISIONED)
"""The states in which a request waits on e-GA: a watch ends when none is left in them."""


def _counts(data: dict) -> list[dict]:
    return [{"state": state, "count": n} for state, n in data["counts"].items()]


def _settled(counts: dict) -> bool:
    return not any(counts.get(state) for state in IN_PROGRESS)


def status(institution: Institution = None,
           waiting_days: Annotated[int, typer.Option("--waiting-days", min=0, max=3650, metavar="N",
                                                     help="Show requests waiting longer than N days.")] = 7,
           limit: Limit = DEFAULT_LIMIT, all_: All = False, every: Watch = None):
    """Requests per state, requests waiting longer than N days, institutions with no active site.

    At most --limit institutions without an active site are listed (--all for every
    one), with how many there are in all. With -o json the whole picture is one object
    (without_active_site_count is the total); with -o csv/tsv, the counts per state.
    --watch follows the requests per state (with -o json the whole object) until none
    waits on e-GA (requested, approved, provisioned): redrawn in a terminal, one line
    per change when piped.

    Examples:

      egactl govnet status

      egactl govnet status --waiting-days 14 --limit 10

      egactl govnet status -o json --query without_active_site_count

      egactl govnet status --watch 10
    """
    ctx = context.get()
    inst = institution.upper() if institution else None
    api = ctx.api()

    def read() -> dict:
        return client.status(api, institution=inst, waiting_days=waiting_days, limit=page_limit(limit, all_))

    whole = bool(ctx.query) or ctx.fmt in ("json", "jsonl")
    if every is not None:
        interval = watch_seconds(every)
        if whole:
            watch(ctx, read, None, every=interval, done=lambda d: _settled(d["counts"]),
                  what="egactl govnet status")
        else:
            watch(ctx, lambda: _counts(read()), COUNTS, every=interval, key=lambda r: r["state"],
                  done=lambda rows: _settled({r["state"]: r["count"] for r in rows}),
                  what="egactl govnet status: requests per state")
        return
    data = read()
    counts = _counts(data)
    if whole:
        ctx.render(data)
        return
    if ctx.fmt != "table":
        ctx.render(counts, COUNTS)
        return
    out = ctx.io.out
    ctx.render(counts, COUNTS)
    out.write(f"\nWaiting longer than {data['waiting_days']} days: {len(data['waiting'])}\n")
    if data["waiting"]:
        ctx.render(data["waiting"], WAITING)
    idle, total = data["without_active_site"], data["without_active_site_count"]
    out.write(f"\nInstitutions with no active site: {total}\n")
    if idle:
        ctx.render(idle, IDLE)
    if len(idle) < total:
        ctx.io.status(f"showing {len(idle)} of {total} institutions without an active site; --limit N or --all")
