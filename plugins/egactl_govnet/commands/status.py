"""egactl govnet status: the onboarding pipeline at a glance."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import Column, Institution, context
from egactl_govnet import client

WAITING = [Column("site"), Column("state"), Column("since"), Column("days_waiting", "DAYS"), Column("id", "REQUEST")]
IDLE = [Column("institution"), Column("name")]


def status(institution: Institution = None,
           waiting_days: Annotated[int, typer.Option("--waiting-days", min=0, max=3650, metavar="N",
                                                     help="Show requests waiting longer than N days.")] = 7):
    """Requests per state, requests waiting longer than N days, institutions with no active site.

    With -o json the whole picture is one object; with -o csv/tsv, the counts per state.
    """
    ctx = context.get()
    inst = institution.upper() if institution else None
    data = client.status(ctx.api(), institution=inst, waiting_days=waiting_days)
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
    out.write(f"\nInstitutions with no active site: {len(data['without_active_site'])}\n")
    if data["without_active_site"]:
        ctx.render(data["without_active_site"], IDLE)
