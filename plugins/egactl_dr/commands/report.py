"""egactl dr report: compliance across the estate (the quarterly report is `-o csv`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from egactl.plugin.cli import Column, Institution, context, time_for_people
from egactl_dr import client
from egactl_dr.commands.common import approved

COLUMNS = [
    Column("system"), Column("criticality"),
    Column("compliant", format=lambda v: "yes" if v else "NO"),
    Column("has_dr_site", "DR SITE"),
    Column("hosting_approved", "HOSTING", format=approved),
    Column("last_check_status", "LAST CHECK", format=lambda v: v or "never"),
    Column("unverified_status", "UNVERIFIED", format=lambda v: f"{v} (help desk)" if v else ""),
    Column("days_since_successful_drill", "DRILL AGE", format=lambda v: "never" if v is None else f"{v} d"),
    Column("issues", format=lambda v: "; ".join(v or [])),
]
CSV_COLUMNS = [Column(k) for k in (
    "system", "institution", "name", "criticality", "compliant", "issues", "has_dr_site", "hosting",
    "hosting_approved", "dr_hosting", "dr_hosting_approved", "last_check_at", "last_check_status", "failing_checks",
    "last_successful_drill_at", "days_since_successful_drill", "drill_overdue",
    # Added later: at the end, so the quarterly spreadsheet's columns keep their places.
    "unverified_at", "unverified_status", "unverified_by")]


def report(institution: Institution = None,
           problems_only: Annotated[bool, typer.Option("--problems-only", help="Only systems that are not compliant.")] = False):
    """Compliance across the estate: DR sites, approved hosting, failing checks, overdue drills.

    LAST CHECK is the latest verified check (an operator's or an admin's);
    UNVERIFIED shows a newer help-desk observation, which never counts as one.

    Examples:

      egactl dr report

      egactl dr report --problems-only -i TRA

      egactl dr report -o csv
    """
    ctx = context.get()
    rows = client.report(ctx.api(), institution=institution.upper() if institution else None)
    summary = _summary(rows)
    if problems_only:
        rows = [r for r in rows if not r["compliant"]]
    if ctx.fmt in ("csv", "tsv") and not ctx.query:
        # One cell per list, joined with "; " so a spreadsheet keeps each issue readable.
        flat = [{**r, "issues": "; ".join(r["issues"]), "failing_checks": "; ".join(r["failing_checks"])} for r in rows]
        ctx.render(flat, CSV_COLUMNS)
    else:
        ctx.render(rows, COLUMNS, empty="No DR systems match.")
    if ctx.fmt == "table" and summary:
        ctx.io.status(summary)


def _summary(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    bad = [r for r in rows if not r["compliant"]]
    counts = {
        "without a DR site": sum(not r["has_dr_site"] for r in rows),
        "outside approved hosting": sum(not r["hosting_approved"] or r["dr_hosting_approved"] is False for r in rows),
        "with failing checks": sum(any("failing check" in i for i in r["issues"]) for r in rows),
        "never or not recently checked": sum(any(i.startswith(("never checked", "not checked")) for i in r["issues"]) for r in rows),
        "with only unverified (help-desk) checks since": sum(bool(r.get("unverified_status")) for r in rows),
        "with drills overdue": sum(bool(r["drill_overdue"]) for r in rows),
    }
    detail = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    return (f"{len(rows)} system(s): {len(rows) - len(bad)} compliant, {len(bad)} not"
            + (f" ({detail})" if detail else "") + f"; as of {time_for_people(context.get().now())}")

