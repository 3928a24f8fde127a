"""egactl mail reconcile: the HR roster (HCMIS export) against the mailboxes.

The roster is checked here first (one line per bad row, nothing sent), then
the backend computes the plan — joiners, leavers, movers, returners — and with
``--apply`` carries it out in one transaction. The safety brake and the plan
itself are the backend's: see egactl_mail/server/reconcile.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import Column, DryRun, Institution, InvalidInput, Yes, bulk, context
from egactl.plugin.rules import check_institution_code
from egactl_mail import client, rules
from egactl_mail.commands.common import csv_columns

REQUIRED = ("employee_number", "given_name", "family_name")
MAX_REPORTED = 50

ACTION_COLUMNS = [Column("action"), Column("employee_number", "EMPLOYEE NO"), Column("name"),
                  Column("institution"), Column("address"), Column("detail"), Column("line")]
CSV_COLUMNS = [Column("action"), Column("employee_number"), Column("name"), Column("institution"),
               Column("address"), Column("changes"), Column("reason"), Column("line")]


def read_roster(path, institution: str | None, report) -> list[dict[str, Any]]:
    """Every roster row, checked; raises InvalidInput (after one line per problem) if any is bad."""
    columns = csv_columns(path, institution)
    optional = [c for c in ("department", "title") if c in columns]
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    bad = 0
    reports: list[str] = []  # said once the whole file is read: a malformed file is one error line
    for line, row in bulk.read_csv(path, REQUIRED):
        problems = []
        number = rules.normalise_employee_number(row.get("employee_number", ""))
        if problem := rules.check_employee_number(number):
            problems.append(problem)
        elif number in seen:
            problems.append(f"duplicate of line {seen[number]} (employee number {number})")
        else:
            seen[number] = line
        inst = (row.get("institution") or institution or "").strip().upper()
        if problem := check_institution_code(inst) if inst else "institution is empty":
            problems.append(problem)
        for key in ("given_name", "family_name"):
            if problem := rules.check_person_name(row.get(key, ""), key):
                problems.append(problem)
        if problems:
            bad += 1
            if bad <= MAX_REPORTED:
                reports.append(f"{path.name}: line {line}: {'; '.join(problems)}")
            continue
        item = {"line": line, "employee_number": number, "institution": inst,
                "given_name": row["given_name"], "family_name": row["family_name"]}
        for key in optional:
            item[key] = row.get(key) or None
        rows.append(item)
    for message in reports:
        report(message)
    if bad > MAX_REPORTED:
        report(f"{path.name}: … and {bad - MAX_REPORTED} more invalid rows")
    if bad:
        raise InvalidInput(f"{path}: {bad} invalid row{'s' if bad != 1 else ''}; nothing was sent",
                           hint="fix the roster and run again")
    if not rows:
        raise InvalidInput(f"{path}: the roster has no staff rows",
                           hint="an empty roster would mean everyone left; check the export")
    return rows


def detail(action: dict[str, Any]) -> str:
    if action.get("changes"):
        return "; ".join(f"{k}: {old or '-'} → {new or '-'}" for k, (old, new) in action["changes"].items())
    return action.get("reason") or ""


def render_plan(ctx, plan: dict[str, Any]) -> None:
    if ctx.fmt == "table":
        counts = plan["counts"]
        done = plan["applied"]
        labels = (("create", "created" if done else "to create"), ("suspend", "suspended" if done else "to suspend"),
                  ("update", "updated" if done else "to update"), ("restore", "restored" if done else "to restore"),
                  ("skip", "skipped"), ("unchanged", "unchanged"), ("other_institutions", "of other institutions"))
        summary = ", ".join(f"{counts[k]} {label}" for k, label in labels)
        ctx.io.status(f"{'Applied' if done else 'Plan'} for {', '.join(plan['institutions']) or '-'}: {summary}")
        rows = [{**a, "detail": detail(a)} for a in plan["actions"]]
        if rows:
            ctx.render(rows, ACTION_COLUMNS)
        else:
            ctx.io.status("Nothing to do: the mailboxes match the roster.")
    elif ctx.fmt in ("csv", "tsv"):
        ctx.render(plan["actions"], CSV_COLUMNS)
    else:
        ctx.render(plan)


def brake_message(brake: dict[str, Any]) -> str:
    return (f"safety brake: {brake['suspensions']} suspensions of {brake['active']} active mailboxes is more than "
            f"the limit of {brake['limit']}; --apply will refuse unless --allow-mass-suspend")


def reconcile(
    roster: Annotated[Optional[str], typer.Option("--roster", metavar="FILE.csv",
                                                  help="HCMIS export: employee_number, given_name, family_name, institution[, department, title].")] = None,
    institution: Institution = None,
    apply: Annotated[bool, typer.Option("--apply", help="Carry the plan out (default: only show it).")] = False,
    allow_mass_suspend: Annotated[bool, typer.Option("--allow-mass-suspend", help="Let --apply suspend more than the safety brake allows.")] = False,
    yes: Yes = False,
    dry_run: DryRun = False,
):
    """Compare the HR roster with the mailboxes: joiners, leavers, movers; --apply to act.

    Examples:

      egactl mail reconcile --roster docs/examples/mail-roster.csv -i RITA

      egactl mail reconcile --roster docs/examples/mail-roster.csv -i RITA --apply --yes
    """
    from pathlib import Path

    ctx = context.get()
    if roster is None:
        raise typer.BadParameter("the HR roster is required", param_hint="--roster")
    path = Path(roster)
    inst = ctx.institution(institution, required=False)
    rows = read_roster(path, inst, ctx.io.status)
    body = {"roster": rows, "institution": inst, "apply": False, "allow_mass_suspend": allow_mass_suspend,
            "source": path.name}
    api = ctx.api()
    if not apply or dry_run:
        plan = client.reconcile(api, body)
        render_plan(ctx, plan)
        if plan["brake"]["tripped"]:
            ctx.io.warn(brake_message(plan["brake"]))
        if any(plan["counts"][k] for k in ("create", "suspend", "update", "restore")):
            ctx.io.status("This is a plan; nothing was changed. Run again with --apply to carry it out.")
        return
    if not yes:
        if not ctx.io.interactive:
            raise InvalidInput("reconcile --apply: needs confirmation", hint="pass --yes to proceed without a prompt")
        plan = client.reconcile(api, body)
        render_plan(ctx, plan)
        if plan["brake"]["tripped"] and not allow_mass_suspend:
            ctx.io.warn(brake_message(plan["brake"]))
        ctx.confirm("Apply this plan?", yes=False)
        body["expect_digest"] = plan["digest"]
    plan = client.reconcile(api, {**body, "apply": True})
    render_plan(ctx, plan)
