"""egactl mail domains: each institution's mail domains."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, DryRun, Institution, Limit, context, enforce, formerly,
                               page_limit)
from egactl_mail import client, rules

app = typer.Typer(help="Mail domains per institution (e.g. rita.go.tz).", no_args_is_help=True)

COLUMNS = [Column("domain"), Column("institution"), Column("naming_rule", "NAMING RULE"), Column("primary")]


@app.command("list")
def list_(institution: Institution = None, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List mail domains."""
    ctx = context.get()
    items = client.list_domains(ctx.api(), limit=page_limit(limit, all_),
                                institution=ctx.institution(institution, required=False))
    ctx.render(items, COLUMNS, empty="No mail domains match.")


@formerly(app, "add")
@app.command()
def create(domain: Annotated[str, typer.Argument(help="The domain, e.g. rita.go.tz.")],
        institution: Institution = None,
        naming_rule: Annotated[str, typer.Option(help=f"How addresses are made: {', '.join(rules.NAMING_RULES)}.")] = rules.DEFAULT_NAMING_RULE,
        primary: Annotated[bool, typer.Option("--primary", help="New mailboxes get this domain (the first domain always does).")] = False,
        dry_run: DryRun = False):
    """Add a mail domain to an institution (admin)."""
    ctx = context.get()
    domain = enforce(rules.parse_domain, domain, flag="DOMAIN")
    if naming_rule not in rules.NAMING_RULES:
        raise typer.BadParameter(f"must be one of {', '.join(rules.NAMING_RULES)}", param_hint="--naming-rule")
    body = {"domain": domain, "institution": ctx.institution(institution), "naming_rule": naming_rule,
            "primary": primary}
    if dry_run:
        ctx.io.status(f"dry run: would add {domain} to {body['institution']}; nothing was changed")
        ctx.render(body, COLUMNS)
        return
    added = client.add_domain(ctx.api(), body)
    ctx.success(f"Added {added['domain']} to {added['institution']}" + (" (primary)" if added["primary"] else ""))
    ctx.render(added, COLUMNS)
