"""egactl dr drills start/finish/list: failover drills (``dr drill ...`` is the old name of the group).

A drill starts when the primary is taken out (``drills start``) and finishes
when service is back at the DR site (``drills finish``), with the data that was
lost. The backend measures the RTO, judges both against the targets, and
keeps the verdict.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, DryRun, Institution, Limit, OldestFirst, context, enforce,
                               page_limit, time_for_people)
from egactl_dr import client, rules
from egactl_dr.commands.common import SystemArg, complete_among, complete_systems, minutes, system_ref, when

RESULTS = ("running", "passed", "failed")

app = typer.Typer(name="drills", help="Failover drills: start one, finish it with what was measured, list those on record.",
                  no_args_is_help=True, add_completion=False)

COLUMNS = [
    Column("id"), Column("system"), Column("result"),
    Column("started_at", "STARTED"), Column("restored_at", "RESTORED"),
    Column("measured_rto_minutes", "RTO", format=minutes), Column("rto_target_minutes", "RTO TARGET", format=minutes),
    Column("data_loss_minutes", "DATA LOST", format=minutes),
    Column("rpo_target_minutes", "RPO TARGET", format=minutes),
    Column("failure_reasons", "WHY FAILED", format=lambda v: "; ".join(v or [])),
]
DETAIL = COLUMNS + [Column("notes"), Column("started_by", "STARTED BY"), Column("finished_by", "FINISHED BY")]
# -o wide: who ran it, when it was recorded as finished, and the notes.
LIST_COLUMNS = COLUMNS + [Column("finished_at", "FINISHED", wide=True), Column("started_by", "STARTED BY", wide=True),
                          Column("finished_by", "FINISHED BY", wide=True), Column("notes", wide=True)]

Notes = Annotated[Optional[str], typer.Option(help="What was done, who took part, the runbook used…")]


@app.command()
def start(system: SystemArg, institution: Institution = None,
          at: Annotated[Optional[str], typer.Option(
              metavar="TIME", help="When it began, if not now: how long ago (90m) or a time (EAT unless it names a zone).")] = None,
          notes: Notes = None, dry_run: DryRun = False):
    """Start a drill: the primary is down (or switched away) from now, or from --at.

    Examples:

      egactl dr drills start TRA/idras --notes "annual failover, change CR-2211"

      egactl dr drills start RITA/crvs --at 2h
    """
    ctx = context.get()
    inst, name = system_ref(ctx, system, institution)
    body = {"started_at": when(at, "--at"), "notes": notes}
    if dry_run:
        current = client.get_system(ctx.api(), inst, name)
        ctx.io.status(f"dry run: would start a drill of {current['system']} at "
                      f"{time_for_people(body['started_at']) if body['started_at'] else 'now'}")
        return
    drill = client.start_drill(ctx.api(), inst, name, {k: v for k, v in body.items() if v is not None})
    ctx.success(f"Started drill {drill['id']} of {drill['system']} at {time_for_people(drill['started_at'])}; "
                f"run `egactl dr drills finish {drill['system']}` when service is restored at the DR site")
    ctx.render(drill, DETAIL)


@app.command()
def finish(system: SystemArg, institution: Institution = None,
           restored_at: Annotated[Optional[str], typer.Option(
               "--restored-at", metavar="TIME",
               help="When service was restored at the DR site (default: now): how long ago (30m) or a time (EAT unless it names a "
                    "zone).")] = None,
           data_loss: Annotated[Optional[str], typer.Option(
               "--data-loss", metavar="DURATION", help="Data lost (measured RPO), e.g. 4m; 0 if none.")] = None,
           failed: Annotated[bool, typer.Option("--failed", help="The failover did not work.")] = False,
           notes: Notes = None, dry_run: DryRun = False):
    """Finish the running drill: measured RTO and RPO, judged against the targets.

    Examples:

      egactl dr drills finish TRA/idras --data-loss 4m

      egactl dr drills finish RITA/crvs --restored-at 30m --failed --notes "DR database would not mount"
    """
    ctx = context.get()
    inst, name = system_ref(ctx, system, institution)
    loss = None if data_loss is None else enforce(rules.parse_minutes, data_loss, "data lost", flag="--data-loss")
    if loss is None and not failed:
        raise typer.BadParameter("say how much data was lost (0 if none), or pass --failed", param_hint="--data-loss")
    body = {"restored_at": when(restored_at, "--restored-at"), "data_loss_minutes": loss, "failed": failed,
            "notes": notes}
    if dry_run:
        running = client.running_drill(ctx.api(), inst, name)
        if running is None:
            ctx.io.status(f"dry run: no drill of {inst}/{name} is running; nothing would be finished")
        else:
            ctx.io.status(f"dry run: would finish drill {running['id']} of {running['system']} "
                          f"(started {time_for_people(running['started_at'])})")
        return
    drill = client.finish_drill(ctx.api(), inst, name, {k: v for k, v in body.items() if v is not None})
    if drill["result"] == "passed":
        ctx.success(f"Drill {drill['id']} of {drill['system']} passed: service restored in "
                    f"{minutes(drill['measured_rto_minutes'])} (RTO {minutes(drill['rto_target_minutes'])}), "
                    f"{minutes(drill['data_loss_minutes'])} of data lost (RPO {minutes(drill['rpo_target_minutes'])})")
    else:
        ctx.io.warn(f"drill {drill['id']} of {drill['system']} FAILED: {'; '.join(drill['failure_reasons'])}")
    ctx.render(drill, DETAIL)


@app.command("list")
def list_(system: Annotated[Optional[str], typer.Argument(metavar="SYSTEM", help="Only this system.",
                                                         autocompletion=complete_systems)] = None,
          institution: Institution = None,
          result: Annotated[Optional[str], typer.Option(help="running, passed or failed.",
                                                        autocompletion=complete_among(RESULTS))] = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False, oldest_first: OldestFirst = False):
    """List drills, newest first (by when they started).

    Examples:

      egactl dr drills list

      egactl dr drills list RITA/crvs --oldest-first

      egactl dr drills list --result running -o json
    """
    ctx = context.get()
    if result is not None and result not in RESULTS:
        raise typer.BadParameter("must be running, passed or failed", param_hint="--result")
    filters: dict = {"result": result}
    if system:
        filters["institution"], filters["name"] = system_ref(ctx, system, institution)
    elif institution:
        filters["institution"] = institution.upper()
    items = client.list_drills(ctx.api(), limit=page_limit(limit, all_), oldest_first=oldest_first, **filters)
    ctx.render(items, LIST_COLUMNS, empty="No drills match.")
