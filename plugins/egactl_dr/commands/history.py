"""egactl dr history: a system's check results over time, newest first."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, Column, Institution, Limit, OldestFirst, context, page_limit
from egactl_dr import client, rules
from egactl_dr.commands.common import SystemArg, system_ref, when


def _metric(record: dict[str, Any], name: str) -> float | None:
    values = [c["metrics"][name] for c in record.get("checks") or []
              if isinstance(c.get("metrics"), dict) and c["metrics"].get(name) is not None]
    return min(values) if values else None


def _cert_days(record: dict[str, Any]) -> str:
    value = _metric(record, "cert_days")
    return "" if value is None else f"{value:.0f}"


def _lag(record: dict[str, Any]) -> str:
    value = _metric(record, "replication_lag")
    return "" if value is None else rules.format_minutes(value / 60)


def _problems(record: dict[str, Any]) -> str:
    return ", ".join(f"{c['check']} {c['state']}" for c in record.get("checks") or [] if c["state"] != "OK")


COLUMNS = [
    Column("at"), Column("status"),
    Column("counts.OK", "OK"), Column("counts.WARNING", "WARN"), Column("counts.CRITICAL", "CRIT"),
    Column("counts.UNKNOWN", "UNKN"),
    Column("checks", "CERT DAYS", format=lambda v: _cert_days({"checks": v})),
    Column("checks", "REPL LAG", format=lambda v: _lag({"checks": v})),
    Column("checked_by", "BY"),
    Column("verified", format=lambda v: "yes" if v is not False else "NO (help desk)"),
    Column("checks", "NOT OK", format=lambda v: _problems({"checks": v})),
]


def history(system: SystemArg, institution: Institution = None,
            since: Annotated[Optional[str], typer.Option(metavar="TIME", help="Only since: 24h, 7d, or a date/time (EAT unless it names a zone).")] = None,
            limit: Limit = DEFAULT_LIMIT, all_: All = False, oldest_first: OldestFirst = False):
    """The trend of a system's checks, newest first: status, certificate days, replication lag, what was not OK.

    Examples:

      egactl dr history RITA/crvs --since 7d

      egactl dr history TRA/idras --limit 5 --oldest-first

      egactl dr history RITA/crvs -o json
    """
    ctx = context.get()
    inst, name = system_ref(ctx, system, institution)
    items = client.check_history(ctx.api(), inst, name, limit=page_limit(limit, all_), since=when(since, "--since"),
                                 oldest_first=oldest_first)
    ctx.render(items, COLUMNS, empty=f"No checks of {inst}/{name} recorded yet.")
