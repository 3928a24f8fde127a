"""egactl mail domains: each institution's mail domains."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, DryRun, Institution, Limit, Yes, context, enforce, formerly,
                               page_limit)
from egactl_mail import client, rules
from egactl_mail.commands.common import complete_domain, complete_naming_rule

app = typer.Typer(help="Mail domains per institution (e.g. rita.go.tz).", no_args_is_help=True)

COLUMNS = [Column("domain"), Column("institution"), Column("naming_rule", "NAMING RULE"), Column("primary"),
           Column("created_at", "CREATED", wide=True)]
Domain = Annotated[str, typer.Argument(metavar="DOMAIN", help="The domain, e.g. rita.go.tz.",
                                       autocompletion=complete_domain)]
NamingRule = Annotated[Optional[str], typer.Option(
    "--naming-rule", metavar="RULE", help=f"How addresses are made: {', '.join(rules.NAMING_RULES)}.",
    autocompletion=complete_naming_rule)]


def naming_rule(value: str | None) -> str | None:
    if value is not None and value not in rules.NAMING_RULES:
        raise typer.BadParameter(f"must be one of {', '.join(rules.NAMING_RULES)}", param_hint="--naming-rule")
    return value


@app.command("list")
def list_(institution: Institution = None, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List mail domains.

    Examples:

      egactl mail domains list

      egactl mail domains list -i RITA -o json
    """
    ctx = context.get()
    items = client.list_domains(ctx.api(), limit=page_limit(limit, all_),
                                institution=ctx.institution(institution, required=False))
    ctx.render(items, COLUMNS, empty="No mail domains match.")


@app.command()
def show(domain: Domain):
    """Show a mail domain: its institution, naming rule, and whether it is primary.

    Examples:

      egactl mail domains show rita.go.tz

      egactl mail domains show udom.ac.tz -o json
    """
    ctx = context.get()
    data, _ = client.get_domain_with_etag(ctx.api(), enforce(rules.parse_domain, domain, flag="DOMAIN"))
    ctx.render(data, COLUMNS)


@formerly(app, "add")
@app.command()
def create(domain: Domain,
           institution: Institution = None,
           naming_rule_: NamingRule = None,
           primary: Annotated[bool, typer.Option("--primary", help="New mailboxes get this domain (the first domain always does).")] = False,
           dry_run: DryRun = False):
    """Add a mail domain to an institution (admin).

    Re-running it is safe: if the domain is there exactly as asked, nothing
    changes and it exits 0 saying "exists"; if it is taken otherwise (another
    institution, another naming rule) it exits 5.

    Examples:

      egactl mail domains create rita.ac.tz -i RITA --dry-run

      egactl mail domains create egov.go.tz -i EGA --naming-rule g.family
    """
    ctx = context.get()
    domain = enforce(rules.parse_domain, domain, flag="DOMAIN")
    body = {"domain": domain, "institution": ctx.institution(institution), "primary": primary}
    if naming_rule_ is not None:  # not given: the default for a new domain, any for an existing one
        body["naming_rule"] = naming_rule(naming_rule_)
    # With --dry-run the backend judges it as it would make it (admin? taken? the institution?) and keeps nothing.
    added, created = client.add_domain(ctx.api(), body, dry_run=dry_run)
    if not created:
        ctx.io.status(f"{added['domain']} exists ({added['institution']}, {added['naming_rule']}"
                      + (", primary" if added["primary"] else "") + "); nothing changed")
        ctx.render(added, COLUMNS)
        return
    if dry_run:
        ctx.io.status(f"dry run: would add {domain} to {body['institution']}; nothing was changed")
        ctx.render(added, COLUMNS)
        return
    ctx.success(f"Added {added['domain']} to {added['institution']}" + (" (primary)" if added["primary"] else ""))
    ctx.render(added, COLUMNS)


@app.command()
def update(domain: Domain,
           naming_rule_: NamingRule = None,
           primary: Annotated[bool, typer.Option("--primary", help="Make it the institution's primary domain: new mailboxes get it (its other domains stop being primary).")] = False,
           dry_run: DryRun = False):
    """Change a domain's naming rule, or make it its institution's primary domain (admin).

    Existing addresses are not renamed: the naming rule is for the mailboxes
    created from now on, and making a domain primary gives it the new ones.

    Examples:

      egactl mail domains update udom.ac.tz --naming-rule g.family

      egactl mail domains update rita.go.tz --primary --dry-run
    """
    ctx = context.get()
    domain = enforce(rules.parse_domain, domain, flag="DOMAIN")
    changes = {k: v for k, v in (("naming_rule", naming_rule(naming_rule_)), ("primary", primary or None))
               if v is not None}
    if not changes:
        raise typer.BadParameter("nothing to change; pass --naming-rule or --primary")
    api = ctx.api()
    current, etag = client.get_domain_with_etag(api, domain)
    # As read: if someone changed the domain meanwhile, 412 (exit 5) and nothing is changed.
    updated = client.update_domain(api, domain, changes, etag, dry_run=dry_run)
    said = ", ".join([f"naming rule {current['naming_rule']} → {updated['naming_rule']}"] * ("naming_rule" in changes)
                     + ["primary"] * bool(primary))
    if dry_run:
        ctx.io.status(f"dry run: would update {domain} ({said}); nothing was changed")
    else:
        ctx.success(f"Updated {domain} ({said}); existing addresses keep their names")
    ctx.render(updated, COLUMNS)


@app.command()
def delete(domain: Domain, yes: Yes = False, dry_run: DryRun = False):
    """Remove a mail domain nothing uses (admin; exit 5 while mailboxes, aliases or lists have addresses in it).

    Examples:

      egactl mail domains delete arushacc.go.tz --dry-run

      egactl mail domains delete arushacc.go.tz --yes
    """
    ctx = context.get()
    domain = enforce(rules.parse_domain, domain, flag="DOMAIN")
    api = ctx.api()
    current, etag = client.get_domain_with_etag(api, domain)
    if dry_run:
        # The backend judges it in full (in use? primary?) and keeps nothing.
        client.delete_domain(api, domain, etag, dry_run=True)
        ctx.io.status(f"dry run: would delete {domain} of {current['institution']}; nothing was changed")
        return
    ctx.confirm(f"Delete mail domain {domain} of {current['institution']}?", yes=yes)
    # As shown and confirmed: if it changed meanwhile, 412 (exit 5) and nothing is deleted.
    deleted = client.delete_domain(api, domain, etag)
    ctx.success(f"Deleted {deleted['domain']} of {deleted['institution']}")
    ctx.render(deleted, COLUMNS)
