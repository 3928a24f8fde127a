"""egactl govnet status: the onboarding pipeline at a glance."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, Column, Institution, Limit, context, page_limit
from egactl_govnet import client

WAITING = [Column("site"), Column("state"), Column("since"), Column("days_waiting", "DAYS"), Column("id", "REQUEST")]
IDLE = [Column("institution"), Column("name")]


def status(institution: Institution = None,
           waiting_days: Annotated[int, typer.Option("--waiting-days", min=0, max=3650, metavar="N",
                                                     help="Show requests waiting longer than N days.")] = 7,
           limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """Requests per state, requests waiting longer than N days, institutions with no active site.

    At most --limit institutions without an active site are listed (--all for every
    one), with how many there are in all. With -o json the whole picture is one object
    (without_active_site_count is the total); with -o csv/tsv, the counts per state.

    Examples:

      egactl govnet status

      egactl govnet status --waiting-days 14 --limit 10

      egactl govnet status -o json --query without_active_site_count
    """
    ctx = context.get()
    inst = institution.upper() if institution else None
    data = client.status(ctx.api(), institution=inst, waiting_days=waiting_days, limit=page_limit(limit, all_))
    counts = [{"state": state, "count": n} for state, n in data["counts"].items()]
    if ctx.query or ctx.fmt in ("json", "jsonl"):
        ctx.render(data)
        return
    if ctx.fmt != "table":
        ctx.render(counts, [Column("state"), Column("count")])
        return
    out = ctx.io.out
    ctx.render(counts, [Column("state"), Column("count")])
    out.write(f"\nWaiting longer than {data['waiting_days']} days: {len(data['waiting'])}\n")
    if data["waiting"]:
        ctx.render(data["waiting"], WAITING)
    idle, total = data["without_active_site"], data["without_active_site_count"]
    out.write(f"\nInstitutions with no active site: {total}\n")
    if idle:
        ctx.render(idle, IDLE)
    if len(idle) < total:
        ctx.io.status(f"showing {len(idle)} of {total} institutions without an active site; --limit N or --all")
