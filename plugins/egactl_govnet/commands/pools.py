"""egactl govnet pools: address pools and their VLAN ranges per point of presence."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, DryRun, Limit, Yes, context, enforce, page_limit
from egactl_govnet import client, rules
from egactl_govnet.commands.common import POOL_COLUMNS, POOL_DETAIL, PoolArg

app = typer.Typer(help="Address pools: list, show (with utilisation), create, update, delete.", no_args_is_help=True)


@app.command("list")
def list_(region: Annotated[Optional[str], typer.Option(help="Only pools of this region.")] = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List pools with how full they are.

    Examples:

      egactl govnet pools list

      egactl govnet pools list --region "dar es salaam" -o wide
    """
    ctx = context.get()
    region = enforce(rules.normalise_region, region, flag="--region") if region else None
    items = client.list_pools(ctx.api(), limit=page_limit(limit, all_), region=region)
    ctx.render(items, POOL_COLUMNS, empty="No pools yet; add one with `egactl govnet pools create`.")


@app.command()
def show(name: PoolArg):
    """Show a pool: utilisation, free blocks, largest free block, VLANs per PoP.

    Examples:

      egactl govnet pools show dodoma-1

      egactl govnet pools show dar-1 --query usage.capacity
    """
    ctx = context.get()
    name = enforce(rules.normalise_pool_name, name.lower())
    ctx.render(client.get_pool(ctx.api(), name), POOL_DETAIL)


@app.command()
def create(name: Annotated[str, typer.Argument(help="Pool name, e.g. dodoma-1.")],
           cidr: Annotated[str, typer.Argument(help="The pool's network, e.g. 10.20.0.0/16.")],
           vlans: Annotated[list[str], typer.Option("--vlans", metavar="POP=FIRST-LAST",
                                                    help="VLANs for sites at a PoP, e.g. DODOMA=100-899 (repeatable).")],
           default_prefix_length: Annotated[Optional[int], typer.Option(
               "--default-prefix-length", metavar="N", help="Prefix length a site gets unless it asks (default 29).")] = None,
           region: Annotated[Optional[str], typer.Option(help="Region served: its sites draw from this pool.")] = None,
           description: Annotated[Optional[str], typer.Option("--description", "-d", help="Free text.")] = None,
           dry_run: DryRun = False):
    """Add an address pool (admin). It may not overlap another pool; run again as it is: exit 0, "exists".

    Examples:

      egactl govnet pools create arusha-1 10.40.0.0/16 --vlans ARUSHA=100-899 --region Arusha

      egactl govnet pools create lab-1 10.99.0.0/24 --vlans DODOMA=3000-3099 --default-prefix-length 30 --dry-run
    """
    ctx = context.get()
    net = enforce(rules.parse_pool_cidr, cidr)
    default = default_prefix_length or max(29, net.prefixlen)
    enforce(rules.check_prefix_length, default, net, flag="--default-prefix-length")
    ranges = [enforce(rules.parse_vlan_range, v, flag="--vlans") for v in vlans]
    enforce(rules.check_vlan_ranges, ranges, flag="--vlans")
    body = {"name": enforce(rules.normalise_pool_name, name), "cidr": str(net), "default_prefix_length": default,
            "region": enforce(rules.normalise_region, region, flag="--region") if region else None,
            "description": enforce(rules.normalise_config_text, description, "description", flag="--description") if description else None,
            "vlans": [{"pop": p, "first": f, "last": l} for p, f, l in ranges]}
    pool, created = client.create_pool(ctx.api(), body, dry_run=dry_run)
    if dry_run and created:
        ctx.io.status(f"dry run: would create pool {pool['name']} ({net}, {net.num_addresses} addresses, "
                      f"sites get a /{default}; checked by the backend, nothing stored)")
    else:  # the core says "exists" instead when the backend found it there, as asked
        ctx.success(f"Created pool {pool['name']} ({pool['cidr']})")
    ctx.render(pool, POOL_DETAIL)


@app.command()
def update(name: PoolArg,
           description: Annotated[Optional[str], typer.Option("--description", "-d", help="Free text ('' to clear).")] = None,
           default_prefix_length: Annotated[Optional[int], typer.Option(
               "--default-prefix-length", metavar="N", help="Prefix length a site gets unless it asks.")] = None,
           vlans: Annotated[Optional[list[str]], typer.Option(
               "--vlans", metavar="POP=FIRST-LAST",
               help="Set the VLAN range of a PoP, or add a PoP (repeatable); others keep theirs.")] = None,
           dry_run: DryRun = False):
    """Change a pool's description, default prefix length or VLAN ranges (admin).

    A range may not leave out a VLAN in use or on hold at its PoP (exit 5, naming
    them); a concurrent change of the pool is exit 5 too.

    Examples:

      egactl govnet pools update dodoma-1 --description "Dodoma region, phase 2"

      egactl govnet pools update dar-1 --vlans DAR-ES-SALAAM=100-2999 --dry-run
    """
    ctx = context.get()
    name = enforce(rules.normalise_pool_name, name.lower())
    changes: dict = {}
    if description is not None:
        text = description.strip()
        changes["description"] = enforce(rules.normalise_config_text, text, "description", flag="--description") if text else None
    api = ctx.api()
    current, etag = client.get_pool_with_etag(api, name)
    if default_prefix_length is not None:
        enforce(rules.check_prefix_length, default_prefix_length, rules.parse_pool_cidr(current["cidr"]),
                flag="--default-prefix-length")
        changes["default_prefix_length"] = default_prefix_length
    if vlans:
        ranges = [enforce(rules.parse_vlan_range, v, flag="--vlans") for v in vlans]
        enforce(rules.check_vlan_ranges, ranges, flag="--vlans")
        changes["vlans"] = [{"pop": p, "first": f, "last": l} for p, f, l in ranges]
    if not changes:
        raise typer.BadParameter("nothing to change; pass at least one of --description, --default-prefix-length, --vlans")
    updated = client.update_pool(api, name, changes, etag=etag, dry_run=dry_run)
    if dry_run:
        ctx.io.status(f"dry run: would update pool {updated['name']} (checked by the backend; nothing stored)")
    else:
        ctx.success(f"Updated pool {updated['name']}")
    ctx.render(updated, POOL_DETAIL)


@app.command()
def delete(name: PoolArg, yes: Yes = False, dry_run: DryRun = False):
    """Remove a pool nothing draws from: no prefix allocated or on hold, no request naming it (admin).

    Examples:

      egactl govnet pools delete arusha-1 --dry-run

      egactl govnet pools delete arusha-1 --yes
    """
    ctx = context.get()
    name = enforce(rules.normalise_pool_name, name.lower())
    api = ctx.api()
    current, etag = client.get_pool_with_etag(api, name)
    if dry_run:
        client.delete_pool(api, name, etag=etag, dry_run=True)
        ctx.io.status(f"dry run: would delete pool {current['name']} (checked by the backend; nothing stored)")
        return
    ctx.confirm(f"Delete pool {current['name']} ({current['cidr']})?", yes=yes)
    deleted = client.delete_pool(api, name, etag=etag)
    ctx.success(f"Deleted pool {deleted['name']} ({deleted['cidr']})")
    if ctx.fmt != "table":
        ctx.render(deleted, POOL_DETAIL)
