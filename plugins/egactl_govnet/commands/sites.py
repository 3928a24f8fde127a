"""egactl govnet sites: an institution's sites (where GovNet is delivered)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, DryRun, Institution, Limit, Yes, context, enforce, page_limit
from egactl.plugin.rules import check_email, normalise_phone
from egactl_govnet import client, rules
from egactl_govnet.commands.common import SITE_COLUMNS, SITE_DETAIL, SiteArg, complete_state

app = typer.Typer(help="An institution's sites: list, show, create, update, delete.", no_args_is_help=True)


@app.command("list")
def list_(institution: Institution = None,
          region: Annotated[Optional[str], typer.Option(help="Only sites in this region.")] = None,
          state: Annotated[Optional[str], typer.Option("--state", "-s", autocompletion=complete_state, help=f"Only sites whose request is: {', '.join(rules.STATES)}.")] = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List sites and where each stands in onboarding.

    Examples:

      egactl govnet sites list -i RITA

      egactl govnet sites list --state requested -o json

      egactl govnet sites list --region dodoma -o wide
    """
    ctx = context.get()
    if state is not None and state not in rules.STATES:
        raise typer.BadParameter(f"must be one of {', '.join(rules.STATES)}", param_hint="--state")
    region = enforce(rules.normalise_region, region, flag="--region") if region else None
    items = client.list_sites(ctx.api(), limit=page_limit(limit, all_), region=region, state=state,
                              institution=institution.upper() if institution else None)
    ctx.render(items, SITE_COLUMNS, empty="No sites match.")


@app.command()
def show(site: SiteArg, institution: Institution = None):
    """Show a site, its contact and its onboarding.

    Examples:

      egactl govnet sites show RITA/dodoma-hq

      egactl govnet sites show dodoma-hq -i RITA -o json
    """
    ctx = context.get()
    ctx.render(client.get_site(ctx.api(), site, ctx.institution(institution, required=False)), SITE_DETAIL)


def _text(value: str | None, flag: str) -> str | None:
    """Text that reaches the site's router configuration: refused here (exit 2) unless a router takes it as it is."""
    return enforce(rules.normalise_config_text, value, flag.lstrip("-").replace("-", " "), flag=flag) if value else None


@app.command()
def create(site: SiteArg,
           region: Annotated[str, typer.Option(help="Region, e.g. Dodoma.")],
           institution: Institution = None,
           district: Annotated[Optional[str], typer.Option(help="District, e.g. Dodoma CBD.")] = None,
           address: Annotated[Optional[str], typer.Option(help="Street address.")] = None,
           contact_name: Annotated[Optional[str], typer.Option(help="On-site contact person.")] = None,
           contact_phone: Annotated[Optional[str], typer.Option(help="Their phone, e.g. +255754123456.")] = None,
           contact_email: Annotated[Optional[str], typer.Option(help="Their e-mail.")] = None,
           dry_run: DryRun = False):
    """Add a site of an institution (run again as it is: exit 0, "exists").

    Examples:

      egactl govnet sites create RITA/mwanza --region Mwanza --district Nyamagana

      egactl govnet sites create TRA/dodoma --region Dodoma --contact-phone "0754 123 456" --dry-run
    """
    ctx = context.get()
    inst, name = client.site_ref(site, ctx.institution(institution, required=False))
    body = {"institution": inst, "name": name, "region": enforce(rules.normalise_region, region, flag="--region"),
            "district": _text(district, "--district"), "address": _text(address, "--address"),
            "contact_name": enforce(rules.normalise_contact_name, contact_name, flag="--contact-name") if contact_name else None,
            "contact_phone": enforce(normalise_phone, contact_phone, flag="--contact-phone") if contact_phone else None,
            "contact_email": enforce(check_email, contact_email, flag="--contact-email") if contact_email else None}
    site_, created = client.create_site(ctx.api(), body, dry_run=dry_run)
    if dry_run and created:
        ctx.io.status(f"dry run: would create site {site_['site']} (checked by the backend; nothing stored)")
    else:  # the core says "exists" instead when the backend found it there, as asked
        ctx.success(f"Created site {site_['site']}")
    ctx.render(site_, SITE_DETAIL)


def _contact(value: str | None, rule, flag: str) -> str | None:
    return enforce(rule, value, flag=flag) if value else None


@app.command()
def update(site: SiteArg, institution: Institution = None,
           region: Annotated[Optional[str], typer.Option(help="Region, e.g. Dodoma.")] = None,
           district: Annotated[Optional[str], typer.Option(help="District ('' to clear).")] = None,
           address: Annotated[Optional[str], typer.Option(help="Street address ('' to clear).")] = None,
           contact_name: Annotated[Optional[str], typer.Option(help="On-site contact person ('' to clear).")] = None,
           contact_phone: Annotated[Optional[str], typer.Option(help="Their phone, e.g. +255754123456 ('' to clear).")] = None,
           contact_email: Annotated[Optional[str], typer.Option(help="Their e-mail ('' to clear).")] = None,
           dry_run: DryRun = False):
    """Change a site's region, address or contact (guarded by its ETag: a concurrent change is exit 5).

    Values are checked as `sites create` checks them; '' clears an optional field.

    Examples:

      egactl govnet sites update RITA/dodoma-hq --contact-phone "0754 000 222"

      egactl govnet sites update dodoma-hq -i RITA --address "" --dry-run
    """
    ctx = context.get()
    inst, name = client.site_ref(site, ctx.institution(institution, required=False))
    given = {"region": region, "district": district, "address": address, "contact_name": contact_name,
             "contact_phone": contact_phone, "contact_email": contact_email}
    if all(v is None for v in given.values()):
        raise typer.BadParameter("nothing to change; pass at least one of --region, --district, --address, "
                                 "--contact-name, --contact-phone, --contact-email")
    checks = {"district": lambda v: _text(v, "--district"), "address": lambda v: _text(v, "--address"),
              "contact_name": lambda v: _contact(v, rules.normalise_contact_name, "--contact-name"),
              "contact_phone": lambda v: _contact(v, normalise_phone, "--contact-phone"),
              "contact_email": lambda v: _contact(v, check_email, "--contact-email")}
    changes = {}
    if region is not None:
        changes["region"] = enforce(rules.normalise_region, region, flag="--region")
    for field, check in checks.items():
        if given[field] is not None:
            changes[field] = check(given[field].strip()) if given[field].strip() else None
    api = ctx.api()
    _, etag = client.get_site_with_etag(api, inst, name)
    updated = client.update_site(api, inst, name, changes, etag=etag, dry_run=dry_run)
    if dry_run:
        ctx.io.status(f"dry run: would update site {updated['site']} (checked by the backend; nothing stored)")
    else:
        ctx.success(f"Updated site {updated['site']}")
    ctx.render(updated, SITE_DETAIL)


@app.command()
def delete(site: SiteArg, institution: Institution = None, yes: Yes = False, dry_run: DryRun = False):
    """Remove a site with no onboarding in progress (offboard it first) and nothing still on hold for it.

    Examples:

      egactl govnet sites delete RITA/mwanza --dry-run

      egactl govnet sites delete RITA/mwanza --yes
    """
    ctx = context.get()
    inst, name = client.site_ref(site, ctx.institution(institution, required=False))
    api = ctx.api()
    current, etag = client.get_site_with_etag(api, inst, name)
    if dry_run:
        client.delete_site(api, inst, name, etag=etag, dry_run=True)
        ctx.io.status(f"dry run: would delete site {current['site']} (checked by the backend; nothing stored)")
        return
    ctx.confirm(f"Delete site {current['site']} ({current['region']})?", yes=yes)
    deleted = client.delete_site(api, inst, name, etag=etag)
    ctx.success(f"Deleted site {deleted['site']}")
    if ctx.fmt != "table":
        ctx.render(deleted, SITE_DETAIL)
