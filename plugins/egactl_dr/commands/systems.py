"""egactl dr systems: the inventory of systems, their DR sites and targets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, Conflict, DryRun, Institution, Limit, Yes, context, enforce,
                               formerly, old_flags, page_limit)
from egactl_dr import client, rules
from egactl_dr.commands.common import (SystemArg, approved, complete_among, days_ago, minutes, read_ca_bundle,
                                       system_ref)

app = typer.Typer(help="The inventory: systems, their DR sites, targets and thresholds.", no_args_is_help=True,
                  add_completion=False)


LIST_COLUMNS = [
    Column("system"), Column("criticality"),
    Column("hosting", format=lambda v: v or ""),
    Column("hosting_approved", "APPROVED", format=approved),
    Column("dr_endpoint", "DR SITE", format=lambda v: v or "none"),
    Column("rpo_minutes", "RPO", format=minutes), Column("rto_minutes", "RTO", format=minutes),
    Column("last_check_status", "LAST CHECK"),
    Column("days_since_successful_drill", "LAST DRILL", format=days_ago),
    # -o wide: where the sites are, and when the last check ran.
    Column("primary_endpoint", "PRIMARY", wide=True), Column("dr_hosting", "DR HOSTING", wide=True),
    Column("last_check_at", "CHECKED AT", wide=True),
]
DETAIL = [
    Column("system"), Column("criticality"),
    Column("hosting"), Column("hosting_approved", "APPROVED", format=approved),
    Column("primary_endpoint", "PRIMARY"), Column("dr_endpoint", "DR SITE", format=lambda v: v or "none"),
    Column("dr_hosting", "DR HOSTING"), Column("dr_hosting_approved", "DR APPROVED", format=approved),
    Column("version_from", "VERSION FROM"), Column("replicated_from", "REPLICATED FROM"),
    Column("backup_from", "BACKUP FROM"), Column("backup_url", "BACKUP URL"),
    Column("rpo_minutes", "RPO", format=minutes), Column("rto_minutes", "RTO", format=minutes),
    Column("thresholds", format=lambda v: ", ".join(f"{k}={x}" for k, x in (v or {}).items()) or "defaults"),
    Column("ca_bundle", "CA BUNDLE", format=lambda v: f"{v.count('BEGIN CERTIFICATE')} certificate(s)" if v else ""),
    Column("last_check_at", "LAST CHECK"), Column("last_check_status", "LAST STATUS"),
    Column("last_successful_drill_at", "LAST DRILL"),
    Column("drill_running_since", "DRILL RUNNING"),
    Column("notes"), Column("version"), Column("updated_at", "UPDATED"),
]

CLEARABLE = ("dr_endpoint", "dr_hosting", "version_from", "replicated_from", "backup_from", "backup_url",
             "ca_bundle", "notes")

Criticality = Annotated[Optional[str], typer.Option(help=f"One of: {', '.join(rules.CRITICALITIES)}.",
                                                    autocompletion=complete_among(rules.CRITICALITIES))]
Hosting = Annotated[Optional[str], typer.Option(help="Hosting environment of the primary site, e.g. gdc-dodoma.")]
DrHosting = Annotated[Optional[str], typer.Option("--dr-hosting", help="Hosting environment of the DR site.")]
Primary = Annotated[Optional[str], typer.Option("--primary", metavar="ENDPOINT",
                                                help="Primary site: https://…/health, http://…, tls://host:port or host:port.")]
Dr = Annotated[Optional[str], typer.Option("--dr", metavar="ENDPOINT", help="DR site endpoint (same forms).")]
VersionFrom = Annotated[Optional[str], typer.Option("--version-from", metavar="SOURCE",
                                                    help="Where the health response says the version: json:PATH or header:NAME.")]
ReplicatedFrom = Annotated[Optional[str], typer.Option("--replicated-from", metavar="SOURCE",
                                                       help="Where the DR site says when it last replicated: json:PATH or header:NAME.")]
BackupFrom = Annotated[Optional[str], typer.Option("--backup-from", metavar="SOURCE",
                                                   help="Where the last backup time is read: json:PATH or header:NAME.")]
BackupUrl = Annotated[Optional[str], typer.Option("--backup-url", metavar="URL",
                                                  help="Endpoint that reports backups (default: the primary endpoint).")]
Rpo = Annotated[Optional[str], typer.Option("--rpo", metavar="DURATION", help="Recovery point objective, e.g. 15m.")]
Rto = Annotated[Optional[str], typer.Option("--rto", metavar="DURATION", help="Recovery time objective, e.g. 4h.")]
Thresholds = Annotated[Optional[list[str]], typer.Option(
    "--threshold", metavar="KEY=VALUE",
    help=f"Override a threshold (repeatable; KEY=default drops it). Keys: {', '.join(rules.DEFAULT_THRESHOLDS)}.")]
CaBundle = Annotated[Optional[Path], typer.Option("--ca-bundle", metavar="FILE", exists=True, dir_okay=False,
                                                  help="PEM certificate(s) of the private CA the system's sites use.")]
Notes = Annotated[Optional[str], typer.Option(help="Free text: owner, runbook link…")]


# The options of add and update that a rule checks: parameter -> (body field, flag, rule, the rule's other arguments).
OPTION_RULES: dict[str, tuple[str, str, Any, tuple]] = {
    "criticality": ("criticality", "--criticality", rules.normalise_criticality, ()),
    "hosting": ("hosting", "--hosting", rules.normalise_hosting, ()),
    "dr_hosting": ("dr_hosting", "--dr-hosting", rules.normalise_hosting, ()),
    "primary": ("primary_endpoint", "--primary", rules.normalise_endpoint, ()),
    "dr": ("dr_endpoint", "--dr", rules.normalise_endpoint, ()),
    "version_from": ("version_from", "--version-from", rules.normalise_field_source, ()),
    "replicated_from": ("replicated_from", "--replicated-from", rules.normalise_field_source, ()),
    "backup_from": ("backup_from", "--backup-from", rules.normalise_field_source, ()),
    "backup_url": ("backup_url", "--backup-url", rules.normalise_http_url, ()),
    "rpo": ("rpo_minutes", "--rpo", rules.parse_target, ("RPO",)),
    "rto": ("rto_minutes", "--rto", rules.parse_target, ("RTO",)),
}


def _body(*, ca_bundle: Path | None, notes: str | None, **options: str | None) -> dict[str, Any]:
    """Validate every option given with the shared rules before anything is sent."""
    body: dict[str, Any] = {}
    for parameter, value in options.items():
        if value is not None:
            field, flag, rule, args = OPTION_RULES[parameter]
            body[field] = enforce(rule, value, *args, flag=flag)
    if ca_bundle is not None:
        body["ca_bundle"] = read_ca_bundle(ca_bundle)
    if notes is not None:
        body["notes"] = notes
    return body


def _thresholds(assignments: list[str] | None, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if not assignments:
        return None
    merged = dict(current or {})
    for text in assignments:
        key, value = enforce(rules.parse_threshold_assignment, text, flag="--threshold")
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return enforce(rules.normalise_thresholds, merged, flag="--threshold")


def _warn_unapproved(ctx, record: dict) -> None:
    for site, key in (("primary", "hosting"), ("DR", "dr_hosting")):
        if record.get(f"{key}_approved") is False:
            ctx.io.warn(f"{record['system']}: the {site} site's hosting environment {record[key]!r} is not an "
                        "approved one; the compliance report will flag it (`egactl dr systems hosting` lists them)")


@old_flags({"-s": "--search"})  # -s is --state across the tool
@app.command("list")
def list_(institution: Institution = None, criticality: Criticality = None,
          search: Annotated[Optional[str], typer.Option("--search", "-S", help="The words of a name (their starts, any order), or a part of the name or hosting.")] = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List systems (operators see their institutions'; admins and the help desk see all).

    Examples:

      egactl dr systems list

      egactl dr systems list --criticality critical -o json

      egactl dr systems list -S dhis -o wide
    """
    ctx = context.get()
    items = client.list_systems(ctx.api(), limit=page_limit(limit, all_),
                                institution=institution.upper() if institution else None,
                                criticality=None if criticality is None else enforce(
                                    rules.normalise_criticality, criticality, flag="--criticality"),
                                q=search)
    ctx.render(items, LIST_COLUMNS, empty="No DR systems match.")


@app.command()
def show(system: SystemArg, institution: Institution = None):
    """Show one system's inventory record.

    Examples:

      egactl dr systems show RITA/crvs

      egactl dr systems show idras -i TRA -o json
    """
    ctx = context.get()
    inst, name = system_ref(ctx, system, institution)
    ctx.render(client.get_system(ctx.api(), inst, name), DETAIL)


@app.command()
def hosting():
    """List the approved government hosting environments.

    Examples:

      egactl dr systems hosting

      egactl dr systems hosting -o json
    """
    ctx = context.get()
    ctx.render([{"environment": h} for h in client.approved_hosting(ctx.api())], [Column("environment")],
               empty="No approved hosting environments are configured.")


@formerly(app, "add")
@app.command("create")
def create(system: SystemArg,
        hosting: Annotated[str, typer.Option(help="Hosting environment of the primary site, e.g. gdc-dodoma.")],
        primary: Annotated[str, typer.Option("--primary", metavar="ENDPOINT",
                                             help="Primary site: https://…/health, http://…, tls://host:port or host:port.")],
        rpo: Annotated[str, typer.Option("--rpo", metavar="DURATION", help="Recovery point objective, e.g. 15m.")],
        rto: Annotated[str, typer.Option("--rto", metavar="DURATION", help="Recovery time objective, e.g. 4h.")],
        institution: Institution = None, criticality: Criticality = None, dr: Dr = None, dr_hosting: DrHosting = None,
        version_from: VersionFrom = None, replicated_from: ReplicatedFrom = None, backup_from: BackupFrom = None,
        backup_url: BackupUrl = None, threshold: Thresholds = None, ca_bundle: CaBundle = None, notes: Notes = None,
        dry_run: DryRun = False):
    """Register a system and its DR site.

    Re-running it is safe: if the system is there with these values, nothing changes
    and it exits 0 saying "exists"; a system of that name with other values is a
    conflict (exit 5) naming the fields that differ (change them with `dr systems update`).

    Examples:

      egactl dr systems create NIDA/nin --hosting gdc-dodoma --primary nin.nida.example:443 --rpo 15m --rto 4h

      egactl dr systems create UDOM/aris --hosting govcloud --primary https://aris.udom.example/health --rpo 1h --rto 8h --dry-run
    """
    ctx = context.get()
    inst, name = system_ref(ctx, system, institution)
    body = {"institution": inst, "name": name,
            **_body(criticality=criticality, hosting=hosting, dr_hosting=dr_hosting, primary=primary, dr=dr,
                    version_from=version_from, replicated_from=replicated_from, backup_from=backup_from,
                    backup_url=backup_url, rpo=rpo, rto=rto, ca_bundle=ca_bundle, notes=notes)}
    if (t := _thresholds(threshold)) is not None:
        body["thresholds"] = t
    if dry_run:
        ctx.io.status(f"dry run: would create DR system {inst}/{name}")
        ctx.render({"system": f"{inst}/{name}", **body}, DETAIL)
        return
    try:
        created, new = client.create_system(ctx.api(), body)
    except Conflict as exc:
        if exc.problem and exc.problem.get("differs"):
            exc.hint = f"change it with `egactl dr systems update {inst}/{name}`, or choose another name"
        raise
    ctx.success(f"Created DR system {created['system']}")  # or "exists: ...", as the backend said
    if not new:
        ctx.render(created, DETAIL)
        return
    _warn_unapproved(ctx, created)
    if not created.get("dr_endpoint"):
        ctx.io.warn(f"{created['system']} has no DR site; add one with `egactl dr systems update {created['system']} --dr ENDPOINT`")
    ctx.render(created, DETAIL)


@app.command()
def update(system: SystemArg, institution: Institution = None, criticality: Criticality = None,
           hosting: Hosting = None, primary: Primary = None, dr: Dr = None, dr_hosting: DrHosting = None,
           version_from: VersionFrom = None, replicated_from: ReplicatedFrom = None, backup_from: BackupFrom = None,
           backup_url: BackupUrl = None, rpo: Rpo = None, rto: Rto = None, threshold: Thresholds = None,
           ca_bundle: CaBundle = None, notes: Notes = None,
           clear: Annotated[Optional[list[str]], typer.Option(
               "--clear", metavar="FIELD", help=f"Empty an optional field (repeatable): {', '.join(CLEARABLE)}.",
               autocompletion=complete_among(CLEARABLE))] = None,
           dry_run: DryRun = False):
    """Change a system's record (guarded by its ETag: a concurrent change gives exit 5).

    Examples:

      egactl dr systems update RITA/crvs --threshold cert_warn_days=45

      egactl dr systems update RITA/crvs --notes "runbook: wiki/crvs-dr"

      egactl dr systems update TRA/idras --rpo 20m --dry-run
    """
    ctx = context.get()
    inst, name = system_ref(ctx, system, institution)
    changes = _body(criticality=criticality, hosting=hosting, dr_hosting=dr_hosting, primary=primary, dr=dr,
                    version_from=version_from, replicated_from=replicated_from, backup_from=backup_from,
                    backup_url=backup_url, rpo=rpo, rto=rto, ca_bundle=ca_bundle, notes=notes)
    for field in clear or []:
        if field not in CLEARABLE:
            raise typer.BadParameter(f"{field!r} is not one of {', '.join(CLEARABLE)}", param_hint="--clear")
        if field in changes:
            raise typer.BadParameter(f"{field} is both set and cleared", param_hint="--clear")
        changes[field] = None
    if not changes and not threshold:
        raise typer.BadParameter("nothing to change; pass at least one option (see --help)")
    api = ctx.api()
    current, etag = client.get_system_with_etag(api, inst, name)
    if threshold:
        changes["thresholds"] = _thresholds(threshold, current.get("thresholds"))
    if dry_run:
        ctx.io.status(f"dry run: would update DR system {current['system']}")
        ctx.render({**current, **changes}, DETAIL)
        return
    updated = client.update_system(api, inst, name, changes, etag=etag)
    ctx.success(f"Updated DR system {updated['system']}")
    _warn_unapproved(ctx, updated)
    ctx.render(updated, DETAIL)


@formerly(app, "remove")
@app.command("delete")
def delete(system: SystemArg, institution: Institution = None, yes: Yes = False, dry_run: DryRun = False):
    """Delete a system, with its drills and check history.

    Examples:

      egactl dr systems delete MOH/dhis2 --dry-run

      egactl dr systems delete MOH/dhis2 --yes
    """
    ctx = context.get()
    inst, name = system_ref(ctx, system, institution)
    api = ctx.api()
    current, etag = client.get_system_with_etag(api, inst, name)
    if dry_run:
        ctx.io.status(f"dry run: would delete DR system {current['system']} with its drills and check history")
        return
    ctx.confirm(f"Delete DR system {current['system']} with its drills and check history?", yes=yes)
    client.remove_system(api, inst, name, etag=etag)
    ctx.success(f"Deleted DR system {current['system']}")
