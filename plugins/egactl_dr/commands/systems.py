"""egactl dr systems: the inventory of systems, their DR sites and targets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, Column, DryRun, Institution, Limit, Yes, context, page_limit
from egactl_dr import client, validation
from egactl_dr.commands.common import (SystemArg, approved, day, days_ago, minutes, read_ca_bundle, rule)

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
    Column("last_check_at", "LAST CHECK", format=day), Column("last_check_status", "LAST STATUS"),
    Column("last_successful_drill_at", "LAST DRILL", format=day),
    Column("drill_running_since", "DRILL RUNNING", format=day),
    Column("notes"), Column("version"), Column("updated_at", "UPDATED", format=day),
]

CLEARABLE = ("dr_endpoint", "dr_hosting", "version_from", "replicated_from", "backup_from", "backup_url",
             "ca_bundle", "notes")

Criticality = Annotated[Optional[str], typer.Option(help=f"One of: {', '.join(validation.CRITICALITIES)}.")]
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
    help=f"Override a threshold (repeatable; KEY=default drops it). Keys: {', '.join(validation.DEFAULT_THRESHOLDS)}.")]
CaBundle = Annotated[Optional[Path], typer.Option("--ca-bundle", metavar="FILE", exists=True, dir_okay=False,
                                                  help="PEM certificate(s) of the private CA the system's sites use.")]
Notes = Annotated[Optional[str], typer.Option(help="Free text: owner, runbook link…")]


def _body(*, criticality, hosting, dr_hosting, primary, dr, version_from, replicated_from, backup_from, backup_url,
          rpo, rto, ca_bundle, notes) -> dict[str, Any]:
    """Validate every flag with the shared rules before anything is sent."""
    body = {
        "criticality": rule(validation.normalise_criticality, criticality, "--criticality"),
        "hosting": rule(validation.normalise_hosting, hosting, "--hosting"),
        "dr_hosting": rule(validation.normalise_hosting, dr_hosting, "--dr-hosting"),
        "primary_endpoint": rule(validation.normalise_endpoint, primary, "--primary"),
        "dr_endpoint": rule(validation.normalise_endpoint, dr, "--dr"),
        "version_from": rule(validation.normalise_field_source, version_from, "--version-from"),
        "replicated_from": rule(validation.normalise_field_source, replicated_from, "--replicated-from"),
        "backup_from": rule(validation.normalise_field_source, backup_from, "--backup-from"),
        "backup_url": rule(validation.normalise_http_url, backup_url, "--backup-url"),
        "rpo_minutes": _target(rpo, "--rpo"),
        "rto_minutes": _target(rto, "--rto"),
        "ca_bundle": read_ca_bundle(ca_bundle),
        "notes": notes,
    }
    return {k: v for k, v in body.items() if v is not None}


def _target(value: str | None, flag: str) -> float | None:
    minutes_ = rule(lambda v: validation.parse_minutes(v, flag.lstrip("-").upper()), value, flag)
    if minutes_ is not None and minutes_ <= 0:
        raise typer.BadParameter("must be more than zero", param_hint=flag)
    return minutes_


def _thresholds(assignments: list[str] | None, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if not assignments:
        return None
    merged = dict(current or {})
    for text in assignments:
        key, value = rule(validation.parse_threshold_assignment, text, "--threshold")
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return rule(validation.check_thresholds, merged, "--threshold")


def _warn_unapproved(ctx, record: dict) -> None:
    for site, key in (("primary", "hosting"), ("DR", "dr_hosting")):
        if record.get(f"{key}_approved") is False:
            ctx.io.warn(f"{record['system']}: the {site} site's hosting environment {record[key]!r} is not an "
                        "approved one; the compliance report will flag it (`egactl dr systems hosting` lists them)")


@app.command("list")
def list_(institution: Institution = None, criticality: Criticality = None,
          search: Annotated[Optional[str], typer.Option("--search", "-s", help="Name or hosting contains this.")] = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List systems (operators see their institutions'; admins and the help desk see all)."""
    ctx = context.get()
    items = client.list_systems(ctx.api(), limit=page_limit(limit, all_),
                                institution=institution.upper() if institution else None,
                                criticality=rule(validation.normalise_criticality, criticality, "--criticality"),
                                q=search)
    ctx.render(items, LIST_COLUMNS, empty="No DR systems match.")


@app.command()
def show(system: SystemArg, institution: Institution = None):
    """Show one system's inventory record."""
    ctx = context.get()
    inst, name = client.system_ref(ctx, system, institution)
    ctx.render(client.get_system(ctx.api(), inst, name), DETAIL)


@app.command()
def hosting():
    """List the approved government hosting environments."""
    ctx = context.get()
    data = ctx.api().get(f"{client.BASE}/hosting")
    ctx.render([{"environment": h} for h in data["approved"]], [Column("environment")],
               empty="No approved hosting environments are configured.")


@app.command()
def add(system: SystemArg,
        hosting: Annotated[str, typer.Option(help="Hosting environment of the primary site, e.g. gdc-dodoma.")],
        primary: Annotated[str, typer.Option("--primary", metavar="ENDPOINT",
                                             help="Primary site: https://…/health, http://…, tls://host:port or host:port.")],
        rpo: Annotated[str, typer.Option("--rpo", metavar="DURATION", help="Recovery point objective, e.g. 15m.")],
        rto: Annotated[str, typer.Option("--rto", metavar="DURATION", help="Recovery time objective, e.g. 4h.")],
        institution: Institution = None, criticality: Criticality = None, dr: Dr = None, dr_hosting: DrHosting = None,
        version_from: VersionFrom = None, replicated_from: ReplicatedFrom = None, backup_from: BackupFrom = None,
        backup_url: BackupUrl = None, threshold: Thresholds = None, ca_bundle: CaBundle = None, notes: Notes = None,
        dry_run: DryRun = False):
    """Register a system and its DR site."""
    ctx = context.get()
    inst, name = client.system_ref(ctx, system, institution)
    body = {"institution": inst, "name": name,
            **_body(criticality=criticality, hosting=hosting, dr_hosting=dr_hosting, primary=primary, dr=dr,
                    version_from=version_from, replicated_from=replicated_from, backup_from=backup_from,
                    backup_url=backup_url, rpo=rpo, rto=rto, ca_bundle=ca_bundle, notes=notes)}
    if (t := _thresholds(threshold)) is not None:
        body["thresholds"] = t
    if dry_run:
        ctx.io.status(f"dry run: would add DR system {inst}/{name}")
        ctx.render({"system": f"{inst}/{name}", **body}, DETAIL)
        return
    created = ctx.api().post(f"{client.BASE}/systems", body)
    ctx.success(f"Added DR system {created['system']}")
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
               "--clear", metavar="FIELD", help=f"Empty an optional field (repeatable): {', '.join(CLEARABLE)}.")] = None,
           dry_run: DryRun = False):
    """Change a system's record (guarded by its ETag: a concurrent change gives exit 5)."""
    ctx = context.get()
    inst, name = client.system_ref(ctx, system, institution)
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
    updated = api.patch(client.system_path(inst, name), changes, etag=etag)
    ctx.success(f"Updated DR system {updated['system']}")
    _warn_unapproved(ctx, updated)
    ctx.render(updated, DETAIL)


@app.command()
def remove(system: SystemArg, institution: Institution = None, yes: Yes = False, dry_run: DryRun = False):
    """Remove a system, with its drills and check history."""
    ctx = context.get()
    inst, name = client.system_ref(ctx, system, institution)
    api = ctx.api()
    current, etag = client.get_system_with_etag(api, inst, name)
    if dry_run:
        ctx.io.status(f"dry run: would remove DR system {current['system']} with its drills and check history")
        return
    ctx.confirm(f"Remove DR system {current['system']} with its drills and check history?", yes=yes)
    api.request("DELETE", client.system_path(inst, name), if_match=etag)
    ctx.success(f"Removed DR system {current['system']}")
