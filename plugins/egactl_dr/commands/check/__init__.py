"""egactl dr check: probe each system's sites now, judge, show, and record the results.

This package is the check and everything only it uses: ``probes`` (what a site
looks like from here), ``verdicts`` (pure judgements of those observations),
``runner`` (all sites at once under one deadline) and ``nagios`` (the
monitoring-plugin output). They load only when a check runs.

The thin typer function parses flags into ``CheckOptions``; ``run_check`` does
the work (select systems → probe → judge → output → record), so it can be
driven without a terminal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import (Column, DryRun, EgactlError, Institution, InvalidInput, Watch, context, old_flags,
                               watch, watch_seconds)
from egactl_dr import client, rules
from egactl_dr.commands.common import STATE_STYLE, complete_among, complete_systems, read_ca_bundle, system_ref

FAIL_ON = ("never", "warning", "unknown", "critical")
DEFAULT_DEADLINE = 50.0  # below Nagios's default service_check_timeout (60 s)

SITE_COLUMNS = [Column("system"), Column("primary_endpoint", "PRIMARY"), Column("dr_endpoint", "DR SITE"),
                Column("backup_url", "BACKUP URL")]
FLAT_COLUMNS = [Column("system"), Column("status"), Column("check"), Column("state"), Column("reason")]
WATCH_COLUMNS = [Column("system"), Column("status"), Column("not_ok", "NOT OK", format=lambda v: ", ".join(v or []))]


@dataclass
class CheckOptions:
    systems: list[str]
    institution: str | None
    all_: bool
    timeout: float | None
    deadline: float
    ca_bundle: Path | None
    concurrency: int
    nagios: bool
    record: bool
    fail_on: str
    dry_run: bool = False
    watch: float | None = None


@old_flags({"-s": "--system"})  # -s is --state across the tool
def check(
    command: typer.Context,
    system: Annotated[Optional[list[str]], typer.Option("--system", metavar="SYSTEM", autocompletion=complete_systems,
                                                        help="INSTITUTION/NAME to check (repeatable).")] = None,
    institution: Institution = None,
    all_: Annotated[bool, typer.Option("--all", help="Every system you can see (the profile's institution does "
                                                     "not narrow it; -i does).")] = False,
    timeout: Annotated[Optional[float], typer.Option(min=0.05, max=120, metavar="SECONDS",
                                                     help="Each probe's timeout (default: each system's timeout_seconds, 5).")] = None,
    deadline: Annotated[float, typer.Option(min=0.1, max=3600, metavar="SECONDS",
                                            help="Deadline for the whole run; unfinished checks become UNKNOWN.")] = DEFAULT_DEADLINE,
    ca_bundle: Annotated[Optional[Path], typer.Option("--ca-bundle", metavar="FILE", exists=True, dir_okay=False,
                                                      help="Also trust this CA bundle (PEM) for this run.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=2048, help="Sites probed at the same time.")] = 128,
    nagios: Annotated[bool, typer.Option("--nagios", help="Monitoring-plugin output: one status line with perfdata; "
                                                          "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.")] = False,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Store the results as check history.")] = True,
    fail_on: Annotated[str, typer.Option("--fail-on", metavar="STATE", autocompletion=complete_among(FAIL_ON),
                                         help=f"Exit 1 when any system is at least this bad: {', '.join(FAIL_ON)}.")] = "never",
    dry_run: DryRun = False,
    watch_: Watch = None,
):
    """Check DR readiness now: reachability, TLS, DNS, version, replication, backups, drills, hosting.

    Examples:

      egactl dr check -i RITA

      egactl dr check --system TRA/idras --no-record -o json

      egactl dr check --all --watch 30
    """
    if fail_on not in FAIL_ON:
        raise typer.BadParameter(f"must be one of {', '.join(FAIL_ON)}", param_hint="--fail-on")
    if all_ and getattr(command.get_parameter_source("institution"), "name", None) == "DEFAULT":
        institution = None  # --all: every system, not only the profile's institution's
    run_check(context.get(), CheckOptions(list(system or []), institution, all_, timeout, deadline, ca_bundle,
                                          concurrency, nagios, record, fail_on, dry_run, watch_))


def run_check(ctx: Any, opts: CheckOptions) -> None:
    started = time.monotonic()
    if opts.watch is not None:
        return _run_watch(ctx, opts)
    if opts.nagios and not opts.dry_run:
        return _run_nagios(ctx, opts, started)
    ca_data = read_ca_bundle(opts.ca_bundle)
    systems = select_systems(ctx, opts)
    if opts.dry_run:
        sites = sum(1 + bool(s.get("dr_endpoint")) for s in systems)
        ctx.io.status(f"dry run: would probe {sites} site(s) of {len(systems)} system(s)"
                      + (" and record the results" if opts.record else "") + "; nothing was probed or recorded")
        ctx.render(systems, SITE_COLUMNS, empty="No DR systems match.")
        return
    if not systems:
        ctx.render([], FLAT_COLUMNS, empty="No DR systems match.")
        return
    result = _probe(ctx, systems, opts, started, ca_data)
    show(ctx, result)
    recorded = _record(ctx, result) if opts.record else None
    _summary(ctx, result, recorded)
    status = result.status
    if opts.fail_on != "never":
        if rules.SEVERITY[status] >= rules.SEVERITY[opts.fail_on.upper()]:
            raise typer.Exit(1)


def select_systems(ctx: Any, opts: CheckOptions) -> list[dict]:
    api = ctx.api()
    if opts.systems:
        out, seen = [], set()
        for ref in opts.systems:
            inst, name = system_ref(ctx, ref, opts.institution)
            if (inst, name) not in seen:
                seen.add((inst, name))
                out.append(client.get_system(api, inst, name))
        return out
    if opts.all_:
        inst = opts.institution.upper() if opts.institution else None
        return client.list_systems(api, institution=inst)
    inst = ctx.institution(opts.institution, required=False)
    if not inst:
        raise InvalidInput("say which systems to check", hint="pass --system INSTITUTION/NAME, --institution CODE or --all")
    return client.list_systems(api, institution=inst)


def _probe(ctx: Any, systems: list[dict], opts: CheckOptions, started: float, ca_data: str | None):
    from egactl_dr.commands.check import runner, sandbox

    remaining = max(opts.deadline - (time.monotonic() - started), 0.0)
    return runner.run(systems, runner.RunOptions(deadline=opts.deadline, budget=remaining, timeout=opts.timeout,
                                                 ca_data=ca_data, concurrency=opts.concurrency,
                                                 network=sandbox.BackendSites(ctx.api())))


def _record_body(result) -> dict:
    return {"started_at": result.started_at.isoformat(), "finished_at": result.finished_at.isoformat(),
            "deadline_exceeded": result.deadline_exceeded,
            "results": [{"institution": r["institution"], "name": r["name"], "status": r["status"],
                         "checks": r["checks"]} for r in result.results]}


def _record(ctx: Any, result) -> dict:
    return client.record_run(ctx.api(), _record_body(result))


def _summary(ctx: Any, result, recorded: dict | None) -> None:
    if ctx.fmt != "table":
        return
    counts: dict[str, int] = {}
    for v in result.verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: kv[0] != "CRITICAL"))
    line = f"{len(result.verdicts)} system(s) checked in {result.elapsed:.1f} s: {parts}"
    if result.deadline_exceeded:
        line += f"; the deadline passed with {result.unfinished} site probe(s) unfinished (UNKNOWN)"
    if recorded:
        line += f"; recorded as check run {recorded['id']}"
        if recorded.get("verified") is False:
            line += " (an unverified observation: it does not count as a check for compliance)"
    ctx.io.status(line)


def watch_rows(result) -> list[dict]:
    """One row per system: its status and the checks that are not OK. Reasons are left out:
    they change with every reading ("HTTP 200 in 84 ms"), and a watch shows what changed."""
    return [{"system": r["system"], "status": r["status"],
             "not_ok": [f"{c['check']} {c['state']}" for c in r["checks"] if c["state"] != "OK"]}
            for r in result.results]


def _run_watch(ctx: Any, opts: CheckOptions) -> None:
    """Check again every SECONDS until Ctrl-C: a terminal sees the systems redrawn, a pipe one
    line per system whose status or failing checks changed. A reading is recorded (unless
    --no-record) when it differs from the last one recorded, so history keeps every change
    and not a row every few seconds."""
    for flag, given in (("--nagios", opts.nagios), ("--dry-run", opts.dry_run), ("--fail-on", opts.fail_on != "never")):
        if given:
            raise InvalidInput(f"--watch checks until Ctrl-C; {flag} is for a single run", hint=f"drop --watch or {flag}")
    every = watch_seconds(opts.watch)
    ca_data = read_ca_bundle(opts.ca_bundle)
    recorded: list[Any] = [None]

    def reading() -> list[dict]:
        started = time.monotonic()
        systems = select_systems(ctx, opts)  # again each time: drills and inventory change too
        if not systems:
            return []
        result = _probe(ctx, systems, opts, started, ca_data)
        rows = watch_rows(result)
        if opts.record and rows != recorded[0]:
            _record(ctx, result)
            recorded[0] = rows
        return rows

    what = "egactl dr check " + " ".join(
        [f"--system {s}" for s in opts.systems] + ([f"-i {opts.institution}"] if opts.institution else [])
        + (["--all"] if opts.all_ else []))
    watch(ctx, reading, WATCH_COLUMNS, every=every, key=lambda r: r["system"], what=what.strip())


def _run_nagios(ctx: Any, opts: CheckOptions, started: float) -> None:
    """Monitoring-plugin rules: whatever goes wrong, one status line and exit 3, never a traceback."""
    from egactl_dr.commands.check import nagios

    try:
        ca_data = read_ca_bundle(opts.ca_bundle)
        systems = select_systems(ctx, opts)
    except EgactlError as exc:
        what = "bad option" if isinstance(exc, InvalidInput) else "cannot read the DR inventory"
        ctx.io.out.write(f"DR UNKNOWN - {what}: {nagios.clean(exc.line())}\n")
        raise typer.Exit(3) from None
    if not systems:
        text, code = nagios.output([], status="UNKNOWN", deadline_exceeded=False, deadline=opts.deadline)
        ctx.io.out.write(text)
        raise typer.Exit(code)
    result = _probe(ctx, systems, opts, started, ca_data)
    notes = []
    if opts.record:
        try:
            recorded = _record(ctx, result)
            notes.append(f"recorded as check run {recorded['id']}")
        except EgactlError as exc:
            notes.append(f"results not recorded: {exc.message}")
    text, code = nagios.output(result.verdicts, status=result.status, deadline_exceeded=result.deadline_exceeded,
                               deadline=opts.deadline, unfinished=result.unfinished, notes=notes)
    ctx.io.out.write(text)
    raise typer.Exit(code)


# -- output ------------------------------------------------------------------------------


def flat_rows(results: list[dict]) -> list[dict]:
    return [{"system": r["system"], "status": r["status"], "check": c["check"], "state": c["state"],
             "reason": c["reason"]} for r in results for c in r["checks"]]


def show(ctx: Any, result) -> None:
    """A table per system in a terminal; the API's shape for -o json; one row per check for csv/tsv."""
    results = result.results
    if ctx.fmt in ("json", "jsonl") or ctx.query:
        ctx.render(results, FLAT_COLUMNS)
        return
    if ctx.fmt in ("csv", "tsv"):
        ctx.render(flat_rows(results), FLAT_COLUMNS)
        return
    io = ctx.io
    if io.out_tty:
        from rich.table import Table
        from rich.text import Text

        console = io.console()
        for r in results:
            table = Table(title=Text.assemble((r["system"], "bold"), "  ", (r["status"], STATE_STYLE[r["status"]])),
                          title_justify="left", box=None, header_style="bold", pad_edge=False)
            for col in ("CHECK", "STATE", "REASON"):
                table.add_column(col, overflow="fold")
            for c in r["checks"]:
                table.add_row(c["check"], Text(c["state"], style=STATE_STYLE[c["state"]]), c["reason"])
            console.print(table)
            console.print()
        return
    from tabulate import tabulate

    blocks = []
    for r in results:
        rows = [[c["check"], c["state"], c["reason"]] for c in r["checks"]]
        blocks.append(f"{r['system']}  {r['status']}\n"
                      + tabulate(rows, headers=["CHECK", "STATE", "REASON"], tablefmt="plain", disable_numparse=True))
    io.out.write("\n\n".join(blocks) + "\n")
