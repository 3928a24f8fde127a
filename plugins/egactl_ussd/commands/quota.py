"""egactl ussd quota: how many codes an institution may hold (list, show; set, admin)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, Column, DryRun, InvalidInput, Limit, context, enforce, page_limit
from egactl.plugin.rules import check_institution_code
from egactl_ussd import client, rules
from egactl_ussd.commands.common import Reason, complete_institution, when

app = typer.Typer(help="How many codes an institution may hold: list, show, set (admin).", no_args_is_help=True)

QUOTA_COLUMNS = [Column("institution"), Column("held"), Column("quota"), Column("free"),
                 Column("granted", "OWN QUOTA", format=lambda v: "yes" if v else "default"), Column("reason"),
                 Column("default_quota", "DEFAULT QUOTA", wide=True), Column("set_by", "SET BY", wide=True),
                 Column("set_at", "SET", wide=True)]
QUOTA_DETAIL = [Column("institution"), Column("held", "HOLDS"), Column("quota"), Column("free", "MAY STILL TAKE"),
                Column("default_quota", "DEFAULT QUOTA"),
                Column("granted", "OWN QUOTA", format=lambda v: "yes (granted by e-GA)" if v else "no: the default applies"),
                Column("reason"), Column("set_by", "SET BY"), Column("set_at", "SET", format=when)]
InstitutionArg = Annotated[str, typer.Argument(metavar="INSTITUTION", help="Institution code, e.g. RITA.",
                                               autocompletion=complete_institution)]


def _render_quota(ctx, record: dict[str, Any]) -> None:
    """People see only the fields that say something (no "set by" without a grant)."""
    cols = QUOTA_DETAIL
    if ctx.fmt == "table" and not ctx.query:
        cols = [c for c in QUOTA_DETAIL if c.value(record) not in (None, "")]
    ctx.render(record, cols)


def _institution(code: str) -> str:
    return enforce(check_institution_code, code.strip().upper())


@app.command("list")
def list_(limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """Every institution that holds a code or has a quota of its own: held, quota, free.

    Examples:

      egactl ussd quota list

      egactl ussd quota list -o wide
    """
    ctx = context.get()
    _render_quotas(ctx, limit, all_)


@app.command("show")
def show(institution: Annotated[Optional[str], typer.Argument(
             metavar="INSTITUTION", help="Institution code, e.g. RITA.", show_default=False,
             autocompletion=complete_institution)] = None,
         limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """How many codes an institution holds, and how many it may hold (reserved and assigned count).

    Examples:

      egactl ussd quota show RITA

      egactl ussd quota show EGA -o json
    """
    ctx = context.get()
    if institution is not None:
        _render_quota(ctx, client.quota(ctx.api(), _institution(institution)))
        return
    # Formerly the listing; kept working for one release (see `quota list`).
    if ctx.fmt not in ("json", "jsonl"):
        ctx.io.warn("`egactl ussd quota show` without an institution is now `egactl ussd quota list`; "
                    "the old form will be removed in the next release")
    _render_quotas(ctx, limit, all_)


def _render_quotas(ctx, limit: int, all_: bool) -> None:
    ctx.render(client.quotas(ctx.api(), limit=page_limit(limit, all_)), QUOTA_COLUMNS,
               empty="No institution holds a code or has a quota of its own.")


@app.command("set")
def set_(institution: InstitutionArg,
         limit: Annotated[str, typer.Argument(metavar="N|default",
                                              help="How many codes it may hold, or 'default' to drop its own quota.")],
         reason: Reason, dry_run: DryRun = False):
    """Grant an institution more (or fewer) codes than the default quota (admin; audited).

    Examples:

      egactl ussd quota set RITA 5 --reason "five services approved"

      egactl ussd quota set RITA default --reason "services merged"
    """
    ctx = context.get()
    inst = _institution(institution)
    text = limit.strip().lower()
    if text == "default":
        value = None
    elif text.isdigit() and int(text) <= rules.LAST:
        value = int(text)
    else:
        raise InvalidInput(f"quota {limit!r} must be a number from 0 to {rules.LAST}, or 'default'")
    reason = enforce(rules.parse_reason, reason, flag="--reason")
    api = ctx.api()
    if dry_run:
        current = client.quota(api, inst)
        after = current["default_quota"] if value is None else value
        ctx.io.status(f"dry run: would set the quota of {inst} from {current['quota']} to {after}"
                      f"{' (the default)' if value is None else ''}; it holds {current['held']}; nothing was changed")
        _render_quota(ctx, {**current, "quota": after, "granted": value is not None,
                            "free": max(0, after - current["held"])})
        return
    row = client.set_quota(api, inst, value, reason)
    ctx.success(f"{row['institution']} may hold {row['quota']} code{'s' if row['quota'] != 1 else ''}"
                f"{'' if row['granted'] else ' (the default quota)'}; it holds {row['held']}")
    if row["held"] > row["quota"]:
        ctx.io.warn(f"{row['institution']} holds more than that already; it can take no new code until it is below")
    _render_quota(ctx, row)
