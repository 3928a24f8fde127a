"""egactl sms group …: an institution's contact groups."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, CsvFile, DryRun, Institution, InvalidInput, Limit, Restart,
                               Results, Resume, SkipInvalid, Yes, bulk, context, enforce, formerly, old_flags,
                               page_limit)
from egactl.plugin.rules import RuleError, check_name
from egactl_sms import client, rules
from egactl_sms.commands.common import complete_groups, group_ref, numbers

app = typer.Typer(help="Contact groups: create, fill from a CSV, and send to with `sms send --group`.",
                  no_args_is_help=True)

GROUP_COLUMNS = [Column("name"), Column("institution"), Column("members"), Column("description"),
                 Column("updated_at", "UPDATED"),
                 Column("created_by", "CREATED BY", wide=True), Column("created_at", "CREATED", wide=True)]
MEMBER_COLUMNS = [Column("phone"), Column("name"), Column("added_at", "ADDED")]

Name = Annotated[str, typer.Argument(metavar="NAME", autocompletion=complete_groups, help="Group name.")]
Numbers = Annotated[list[str], typer.Argument(metavar="NUMBER…", help="Numbers (0754…, +255754…; commas allowed).")]





@app.command("create")
def create(name: Name,
           description: Annotated[Optional[str], typer.Option("--description", "-d", help="What the group is for.")] = None,
           institution: Institution = None, dry_run: DryRun = False):
    """Create an empty contact group.

    Examples:

      egactl sms group create "wazazi Ilala" -i RITA --description "parents, Ilala district"

      egactl sms group create walimu -i RITA --dry-run
    """
    ctx = context.get()
    body = {"institution": ctx.institution(institution), "name": enforce(rules.group_name, name),
            "description": description}
    if dry_run:
        ctx.notice(f"dry run: would create group {body['name']!r} for {body['institution']}")
        ctx.render({**body, "members": 0}, GROUP_COLUMNS)
        return
    out = client.create_group(ctx.api(), body)
    ctx.success(f"Created group {out['name']!r} for {out['institution']}")
    ctx.render(out, GROUP_COLUMNS)


@app.command("list")
def list_(institution: Institution = None, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List contact groups.

    Examples:

      egactl sms group list -i RITA

      egactl sms group list -o json
    """
    ctx = context.get()
    items = client.groups(ctx.api(), limit=page_limit(limit, all_),
                           institution=institution.upper() if institution else None)
    ctx.render(items, GROUP_COLUMNS, empty="No groups match.")


@app.command("show")
def show(name: Name, institution: Institution = None, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """Show a group and its members.

    Examples:

      egactl sms group show wateja -i RITA

      egactl sms group show wateja -i RITA --all -o json
    """
    ctx = context.get()
    inst, name = group_ref(ctx, institution, name)
    group = client.group(ctx.api(), inst, name)
    members = client.members(ctx.api(), inst, name, limit=page_limit(limit, all_))
    if ctx.fmt != "table" or ctx.query:
        ctx.render({**group, "member_list": members}, GROUP_COLUMNS)
        return
    ctx.render(group, GROUP_COLUMNS)
    ctx.io.out.write("\n")
    ctx.render(members, MEMBER_COLUMNS, empty="The group has no members.")
    if len(members) < group["members"]:
        ctx.notice(f"showing {len(members)} of {group['members']} members; pass --all to see every one")


@formerly(app, "add")
@app.command("add-members")
@old_flags({"-n": "--name"})
def add_members(name: Name, number: Numbers,
        member_name: Annotated[Optional[str], typer.Option("--name", help="The member's name (one number only).")] = None,
        institution: Institution = None, dry_run: DryRun = False):
    """Add numbers to a group (already a member: fine).

    Examples:

      egactl sms group add-members wateja 0754123456 -i RITA --name "Zawadi Mushi"

      egactl sms group add-members wateja 0754123457,0655123458 -i RITA --dry-run
    """
    ctx = context.get()
    phones = numbers(number)
    if member_name and len(phones) > 1:
        raise InvalidInput("--name names one member; give one number with it")
    inst, name = group_ref(ctx, institution, name)
    if dry_run:
        client.group(ctx.api(), inst, name)
        ctx.notice(f"dry run: would add {len(phones)} number(s) to group {name!r}")
        ctx.render([{"phone": p, "name": member_name} for p in phones], MEMBER_COLUMNS[:2])
        return
    out = client.add_members(ctx.api(), inst, name, [{"phone": p, "name": member_name} for p in phones])
    already = f" ({out['already_members']} already in it)" if out["already_members"] else ""
    ctx.success(f"Added {out['added']} number(s) to group {name!r}{already}; it has {out['group']['members']}")
    ctx.render(out["group"], GROUP_COLUMNS)


@formerly(app, "remove")
@app.command("remove-members")
def remove_members(name: Name, number: Numbers, institution: Institution = None, yes: Yes = False, dry_run: DryRun = False):
    """Remove numbers from a group.

    Examples:

      egactl sms group remove-members wateja 0713200002 -i RITA --dry-run

      egactl sms group remove-members wateja 0713200002 -i RITA --yes
    """
    ctx = context.get()
    phones = numbers(number)
    inst, name = group_ref(ctx, institution, name)
    if dry_run:
        client.group(ctx.api(), inst, name)
        ctx.notice(f"dry run: would remove {len(phones)} number(s) from group {name!r}")
        return
    ctx.confirm(f"Remove {len(phones)} number(s) from group {name!r}?", yes=yes)
    out = client.remove_members(ctx.api(), inst, name, phones)
    if out["not_members"]:
        ctx.warn(f"not members of {name!r}: {', '.join(out['not_members'])}")
    ctx.success(f"Removed {out['removed']} number(s) from group {name!r}; it has {out['group']['members']}")
    ctx.render(out["group"], GROUP_COLUMNS)


def _member_row(row: dict[str, str], line: int) -> dict:
    try:
        phone = rules.recipient(row.get("phone", ""))
    except RuleError as exc:
        raise bulk.RowError(str(exc)) from None
    name = row.get("name", "").strip() or None
    if name and (problem := check_name(name, "name")):
        raise bulk.RowError(problem)
    return {"phone": phone, "name": name}


@app.command("import")
def import_(name: Name, file: CsvFile, institution: Institution = None, skip_invalid: SkipInvalid = False,
            resume: Resume = False, restart: Restart = False, results: Results = None, dry_run: DryRun = False):
    """Add members from a CSV with columns phone[,name].

    Examples:

      egactl sms group import wateja wazazi.csv -i RITA --dry-run

      egactl sms group import wateja wazazi.csv -i RITA --results out.csv
    """
    ctx = context.get()
    inst, name = group_ref(ctx, institution, name)
    client.group(ctx.api(), inst, name)  # the group must exist before any row is sent
    job = bulk.Job(name="sms-group-import", path=file, required=("phone",), parse_row=_member_row,
                   endpoint=client.import_members_path(inst, name), options={"institution": inst, "group": name},
                   chunk_size=2000, workers=2, noun="members")
    summary = bulk.run(ctx, job, skip_invalid=skip_invalid, resume=resume, restart=restart, results=results,
                       dry_run=dry_run)
    if dry_run:
        ctx.notice(f"dry run: {summary.rows - summary.invalid} valid row(s) would be added to group {name!r}")
    bulk.finish_command(ctx, summary)


@app.command("delete")
def delete(name: Name, institution: Institution = None, yes: Yes = False, dry_run: DryRun = False):
    """Delete a group and its member list (past sends keep their record).

    Examples:

      egactl sms group delete wateja -i RITA --dry-run

      egactl sms group delete wateja -i RITA --yes
    """
    ctx = context.get()
    inst, name = group_ref(ctx, institution, name)
    group, etag = client.group_with_etag(ctx.api(), inst, name)
    if dry_run:
        ctx.notice(f"dry run: would delete group {group['name']!r} of {group['institution']} "
                      f"({group['members']} members)")
        return
    ctx.confirm(f"Delete group {group['name']!r} with {group['members']} members?", yes=yes)
    # The group as shown and confirmed: if it changed meanwhile, 412 (exit 5) and nothing is deleted.
    client.delete_group(ctx.api(), inst, name, etag=etag)
    ctx.success(f"Deleted group {group['name']!r}")
