"""egactl mail list-group: distribution lists."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import DEFAULT_LIMIT, All, Column, DryRun, Institution, Limit, Yes, context, enforce, page_limit
from egactl_mail import client, rules
from egactl_mail.commands.common import complete_list, complete_mailbox

app = typer.Typer(help="Distribution lists (members: mailboxes, other lists, outside addresses).",
                  no_args_is_help=True)

COLUMNS = [Column("address"), Column("name"), Column("institution"), Column("member_count", "MEMBERS"),
           Column("created_at", "CREATED", wide=True), Column("updated_at", "UPDATED", wide=True)]
MEMBER_COLUMNS = [Column("address", "MEMBER"), Column("kind"), Column("status")]
ListAddress = Annotated[str, typer.Argument(metavar="LIST", help="The list's address.", autocompletion=complete_list)]
Members = Annotated[list[str], typer.Argument(metavar="MEMBER...", help="Addresses: mailboxes, aliases, lists or outside addresses.",
                                              autocompletion=complete_mailbox)]


def _members(values: list[str]) -> list[str]:
    return [enforce(rules.check_external_address, raw.strip(), flag="MEMBER") for raw in values]


def _show(ctx, data: dict) -> None:
    if ctx.fmt == "table":
        ctx.render({k: data[k] for k in ("address", "name", "institution", "member_count")}, COLUMNS)
        ctx.io.out.write("\n")
        ctx.render(data["members"], MEMBER_COLUMNS, empty="No members.")
    elif ctx.fmt in ("csv", "tsv"):
        ctx.render(data["members"], MEMBER_COLUMNS)
    else:
        ctx.render(data, COLUMNS)


@app.command("list")
def list_(institution: Institution = None, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List distribution lists.

    Examples:

      egactl mail list-group list -i RITA

      egactl mail list-group list -o json
    """
    ctx = context.get()
    items = client.list_lists(ctx.api(), limit=page_limit(limit, all_),
                              institution=ctx.institution(institution, required=False))
    ctx.render(items, COLUMNS, empty="No distribution lists match.")


@app.command()
def create(address: Annotated[str, typer.Argument(metavar="ADDRESS", help="The list's address, e.g. ict@rita.go.tz.")],
           name: Annotated[str, typer.Option(help="What the list is for.")],
           institution: Institution = None,
           member: Annotated[Optional[list[str]], typer.Option("--member", "-m", help="A first member (repeatable).")] = None,
           dry_run: DryRun = False):
    """Create a distribution list (its address is claimed like a mailbox's).

    Re-running it is safe: the list there already with this institution, name
    (and these members, if given) is "exists", exit 0; the address taken
    otherwise is exit 5.

    Examples:

      egactl mail list-group create ict@rita.go.tz -i RITA --name "ICT unit" -m neema.kweka@rita.go.tz

      egactl mail list-group create board@rita.go.tz -i RITA --name Board --dry-run
    """
    ctx = context.get()
    address = enforce(rules.parse_address, address, flag="ADDRESS")
    body = {"address": address, "institution": ctx.institution(institution), "name": name,
            "members": _members(member or [])}
    if dry_run:
        ctx.io.status(f"dry run: would create list {address} with {len(body['members'])} member(s); nothing was changed")
        return
    created, new = client.create_list(ctx.api(), body)
    if new:
        ctx.success(f"Created list {created['address']}")
    else:  # re-running it is safe
        ctx.io.status(f"List {created['address']} exists with these details; nothing changed")
    _show(ctx, created)


@app.command()
def show(address: ListAddress):
    """Show a list and its members.

    Examples:

      egactl mail list-group show staff@rita.go.tz

      egactl mail list-group show staff@rita.go.tz -o json
    """
    ctx = context.get()
    _show(ctx, client.get_list(ctx.api(), address))


@app.command("add-members")
def add_members(address: ListAddress, members: Members, dry_run: DryRun = False):
    """Add members (those already in the list are left as they are).

    Examples:

      egactl mail list-group add-members staff@rita.go.tz zuhura.ngwanakilala@rita.go.tz

      egactl mail list-group add-members staff@rita.go.tz auditor@example.org --dry-run
    """
    ctx = context.get()
    wanted = _members(members)
    if dry_run:
        current = client.get_list(ctx.api(), address)
        present = {m["address"].lower() for m in current["members"]}
        new = [m for m in wanted if m.lower() not in present]
        ctx.io.status(f"dry run: would add {len(new)} member(s) to {current['address']}; nothing was changed")
        return
    updated = client.add_members(ctx.api(), address, wanted)
    ctx.success(f"{updated['address']} has {updated['member_count']} member(s)")
    _show(ctx, updated)


@app.command("remove-members")
def remove_members(address: ListAddress, members: Members, yes: Yes = False, dry_run: DryRun = False):
    """Remove members (exit 3 if one of them is not a member).

    Examples:

      egactl mail list-group remove-members staff@rita.go.tz neema.kweka@rita.go.tz --yes

      egactl mail list-group remove-members staff@rita.go.tz juma.mrisho@rita.go.tz --dry-run
    """
    ctx = context.get()
    wanted = _members(members)
    current, etag = client.get_list_with_etag(ctx.api(), address)
    if dry_run:
        ctx.io.status(f"dry run: would remove {len(wanted)} member(s) from {current['address']}; nothing was changed")
        return
    ctx.confirm(f"Remove {len(wanted)} member(s) from {address}?", yes=yes)
    # Only from the list as read: a concurrent change makes this a 412 (exit 5), nothing removed.
    updated = client.remove_members(ctx.api(), address, wanted, etag)
    ctx.success(f"{updated['address']} has {updated['member_count']} member(s)")
    _show(ctx, updated)


@app.command()
def delete(address: ListAddress, yes: Yes = False, dry_run: DryRun = False):
    """Delete a distribution list: its members go with it, so does its membership of other lists, and its address is free.

    Examples:

      egactl mail list-group delete staff@rita.go.tz --dry-run

      egactl mail list-group delete staff@rita.go.tz --yes
    """
    ctx = context.get()
    address = enforce(rules.parse_address, address, flag="LIST")
    api = ctx.api()
    current, etag = client.get_list_with_etag(api, address)
    if dry_run:
        # The backend judges it in full (who may, what goes with it) and keeps nothing.
        gone = client.delete_list(api, address, etag, dry_run=True)
        ctx.io.status(f"dry run: would delete list {address} with {current['member_count']} member(s)"
                      + (f", and take it out of {', '.join(gone['member_of'])}" if gone["member_of"] else "")
                      + "; nothing was changed")
        return
    ctx.confirm(f"Delete list {address} with {current['member_count']} member(s)? Mail to it will bounce", yes=yes)
    # The list as shown and confirmed: if it changed meanwhile, 412 (exit 5) and nothing is deleted.
    gone = client.delete_list(api, address, etag)
    ctx.success(f"Deleted list {gone['address']} ({gone['member_count']} member(s))"
                + (f"; it is no longer a member of {', '.join(gone['member_of'])}" if gone["member_of"] else ""))
    ctx.render(gone, COLUMNS)
