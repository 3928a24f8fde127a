"""egactl mail create/list/show/update, the lifecycle verbs, and reset-password."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, Conflict, DryRun, Institution, InvalidInput, Limit, Yes,
                               context, enforce, old_flags, page_limit, time_for_people)
from egactl.plugin.rules import IllegalTransition, check_name
from egactl_mail import client, rules
from egactl_mail.commands import common
from egactl_mail.commands.common import Ref

Reason = Annotated[Optional[str], typer.Option("--reason", help="Why (kept in the audit log).")]


def quota_mb(value: str | None) -> int | None:
    return None if value is None else enforce(rules.parse_quota, value, flag="--quota")


def check_names(given: str, family: str, preferred: str | None, address: str | None) -> None:
    """Fail before sending when no address can be made from the names."""
    for value, what in ((given, "--given-name"), (family, "--family-name")):
        enforce(rules.check_person_name, value, what)
    if preferred:
        enforce(check_name, preferred.strip(), "--preferred-name")
    if address:
        return
    try:
        rules.local_part_for(given, family, preferred_name=preferred)
    except rules.UnusableName as exc:
        # Not enforce(): the problem has a way out the rule can't know of.
        raise InvalidInput(str(exc), hint="pass --address to choose the address yourself") from None


# -g and -f were --given-name and --family-name: -g means --group and -f is `egactl api`'s
# elsewhere, so they are gone from the help, kept here for a release (create has no other use for them).
@old_flags({"-g": "--given-name", "-f": "--family-name"})
def create(
    given_name: Annotated[str, typer.Option("--given-name", help="Given name(s); the first is used in the address.")],
    family_name: Annotated[str, typer.Option("--family-name", help="Family name.")],
    employee_number_: Annotated[str, typer.Option("--employee-number", "-e", help="HCMIS check number.")],
    institution: Institution = None,
    preferred_name: Annotated[Optional[str], typer.Option(help="The given name the person goes by (used in the address).")] = None,
    title: Annotated[Optional[str], typer.Option(help="Job title.")] = None,
    department: Annotated[Optional[str], typer.Option(help="Department or unit.")] = None,
    quota: Annotated[Optional[str], typer.Option(help="Mailbox size, e.g. 2G or 512M (default: the service's).")] = None,
    domain: Annotated[Optional[str], typer.Option(help="One of the institution's domains (default: its primary).",
                                                  autocompletion=common.complete_domain)] = None,
    address: Annotated[Optional[str], typer.Option(help="Use this address instead of generating one (exit 5 if taken).")] = None,
    dry_run: DryRun = False,
):
    """Create a mailbox for a person; the address is generated from the naming rule.

    Re-running it is safe: if the employee has this mailbox already with these
    details, nothing changes and it exits 0 saying "exists"; another mailbox of
    the employee (other details, another institution, deleted) is exit 5.

    Examples:

      egactl mail create -i RITA --given-name Amina --family-name Juma -e 111000006

      egactl mail create -i TRA --given-name Juma --family-name Mrisho -e 222000001 --dry-run
    """
    ctx = context.get()
    inst = ctx.institution(institution)
    if address:
        address = enforce(rules.parse_address, address, flag="--address")
    check_names(given_name, family_name, preferred_name, address)
    number = enforce(rules.parse_employee_number, employee_number_, flag="--employee-number")
    body = {"institution": inst, "employee_number": number, "given_name": given_name,
            "family_name": family_name, "preferred_name": preferred_name, "title": title, "department": department,
            "quota_mb": quota_mb(quota), "domain": domain.lower() if domain else None, "address": address}
    if dry_run:
        preview, created = client.create_mailbox(ctx.api(), body, dry_run=True)
        if not created:
            ctx.io.status(f"{preview['address']} exists for employee {number} with these details; nothing changed")
            common.mailbox(ctx, preview, detail=True)
            return
        ctx.io.status(f"dry run: would create {preview['address']}; nothing was changed")
        ctx.render(preview, [Column("address"), Column("institution"), Column("employee_number", "EMPLOYEE NO"),
                             Column("department"), Column("quota_mb", "QUOTA MB")])
        return
    # Retries reuse the request's Idempotency-Key; a second mailbox for the
    # same employee number is refused by the backend (exit 5) in any case.
    record, created = client.create_mailbox(ctx.api(), body)
    if not created:  # the employee's mailbox, exactly as asked: nothing changed (exit 0)
        ctx.io.status(f"{record['address']} exists for employee {number} with these details; nothing changed")
    else:
        ctx.success(f"Created {record['address']} for {record['display_name']}")
    common.mailbox(ctx, record, detail=True)


# --status is --state (one word for lifecycle state); -s is --state's short flag now, so
# --search's is -S and the old `-s TEXT` (a search) can't be kept: it means --state.
@old_flags({"--status": "--state"})
def list_(
    institution: Institution = None,
    state: Annotated[Optional[str], typer.Option("--state", "-s", metavar="STATE", help=f"One of: {', '.join(rules.STATES)}.",
                                                 autocompletion=common.complete_state)] = None,
    department: Annotated[Optional[str], typer.Option(help="Only this department.")] = None,
    search: Annotated[Optional[str], typer.Option("--search", "-S", help="Address, employee number, or the start of a name.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    all_: All = False,
):
    """List mailboxes (purged ones only with --state purged).

    Examples:

      egactl mail list -i RITA --department ICT

      egactl mail list --state suspended --all

      egactl mail list -S "juma mr" -o json
    """
    ctx = context.get()
    if state is not None and state not in rules.STATES:
        raise typer.BadParameter(f"must be one of {', '.join(rules.STATES)}", param_hint="--state")
    inst = ctx.institution(institution, required=False)
    items = client.list_mailboxes(ctx.api(), limit=page_limit(limit, all_), institution=inst, status=state,
                                  department=department, q=search)
    common.mailbox(ctx, items, empty="No mailboxes match.")


def show(ref: Ref):
    """Show a mailbox: state, login and delivery, usage, aliases.

    Examples:

      egactl mail show juma.mrisho@rita.go.tz

      egactl mail show 111000002 -o json
    """
    ctx = context.get()
    common.mailbox(ctx, client.get_mailbox(ctx.api(), ref), detail=True)


def update(
    ref: Ref,
    title: Annotated[Optional[str], typer.Option(help="New job title ('' to clear).")] = None,
    department: Annotated[Optional[str], typer.Option(help="New department ('' to clear).")] = None,
    given_name: Annotated[Optional[str], typer.Option("--given-name", help="Corrected given name (the address stays).")] = None,
    family_name: Annotated[Optional[str], typer.Option("--family-name", help="Corrected family name (the address stays).")] = None,
    move_to: Annotated[Optional[str], typer.Option("--move-to", metavar="CODE", help="Transfer to another institution: new address there, the old one kept as an alias.",
                                                   autocompletion=common.complete_institution)] = None,
    dry_run: DryRun = False,
):
    """Change a mailbox's details, or move it to another institution.

    Examples:

      egactl mail update 111000002 --title "Senior Systems Administrator"

      egactl mail update juma.mrisho@rita.go.tz --move-to TRA --dry-run
    """
    ctx = context.get()
    changes = {k: val for k, val in {"title": title, "department": department, "given_name": given_name,
                                     "family_name": family_name,
                                     "institution": move_to.upper() if move_to else None}.items() if val is not None}
    if not changes:
        raise typer.BadParameter("nothing to change; pass --title, --department, --given-name, --family-name or --move-to")
    if dry_run:
        current = client.get_mailbox(ctx.api(), ref)
        ctx.io.status(f"dry run: would update {current['address']}: "
                      + ", ".join(f"{k} {current.get(k)!r} → {val!r}" for k, val in changes.items()))
        return
    updated = client.update_mailbox(ctx.api(), ref, changes)
    ctx.success(f"Updated {updated['address']}")
    common.mailbox(ctx, updated, detail=True)


# -- lifecycle ------------------------------------------------------------------------------


PAST = {"suspend": "Suspended", "resume": "Resumed", "delete": "Deleted", "undelete": "Undeleted", "purge": "Purged"}


def next_state(current: dict, action: str) -> str:
    """Where ``action`` takes the mailbox as read (a dry run's answer); exit 5 if its state forbids it."""
    try:
        return rules.MAILBOX.next_state(action, current["status"])
    except IllegalTransition as exc:
        raise Conflict(f"{current['address']}: {exc}") from None


def _transition(ref: str, action: str, *, reason: str | None, yes: bool, dry_run: bool, confirm: str | None) -> None:
    ctx = context.get()
    api = ctx.api()
    current, etag = client.get_mailbox_with_etag(api, ref)
    address = current["address"]
    if dry_run:
        target = next_state(current, action)
        if target == rules.PREVIOUS:
            target = "the state it had before delete"
        note = " if its retention period allows" if action in ("undelete", "purge") else ""
        ctx.io.status(f"dry run: would {action} {address} ({current['status']} → {target}){note}; nothing was changed")
        return
    if confirm:
        ctx.confirm(confirm.format(address=address), yes=yes)
    # As it was shown and confirmed: if someone changed it meanwhile, 412 (exit 5), nothing done.
    done = client.transition(api, address, action, reason, etag)
    ctx.success(f"{PAST[action]} {address}; it is now {done['status']}"
                + (f" (address retained until {time_for_people(done['retain_until'])})" if done.get("retain_until") else ""))
    common.mailbox(ctx, done, detail=True)


def suspend(ref: Ref, reason: Reason = None, yes: Yes = False, dry_run: DryRun = False):
    """Turn login off; mail is still delivered.

    Examples:

      egactl mail suspend neema.kweka@rita.go.tz --reason "on study leave" --yes

      egactl mail suspend 111000003 --dry-run
    """
    _transition(ref, "suspend", reason=reason, yes=yes, dry_run=dry_run, confirm="Suspend {address} (login off)?")


def resume(ref: Ref, reason: Reason = None, dry_run: DryRun = False):
    """Turn login back on for a suspended mailbox (formerly `mail restore`).

    Examples:

      egactl mail resume baraka.mwakyusa@rita.go.tz

      egactl mail resume 111000004 --reason "back from leave" --dry-run
    """
    _transition(ref, "resume", reason=reason, yes=True, dry_run=dry_run, confirm=None)


def delete(ref: Ref, reason: Reason = None, yes: Yes = False, dry_run: DryRun = False):
    """Delete (soft): login off, mail bounced, address retained until purge.

    Examples:

      egactl mail delete zuhura.ngwanakilala@rita.go.tz --reason "left the service" --yes

      egactl mail delete 111000003 --dry-run
    """
    _transition(ref, "delete", reason=reason, yes=yes, dry_run=dry_run,
                confirm="Delete {address}? Mail to it will bounce")


def undelete(ref: Ref, reason: Reason = None, dry_run: DryRun = False):
    """Bring back a deleted mailbox, within its retention period.

    Examples:

      egactl mail undelete asha.said@rita.go.tz

      egactl mail undelete 111000005 --dry-run
    """
    _transition(ref, "undelete", reason=reason, yes=True, dry_run=dry_run, confirm=None)


def purge(ref: Ref, reason: Reason = None, yes: Yes = False, dry_run: DryRun = False):
    """Purge a deleted mailbox now that its retention has ended (frees the address).

    Before the end of its retention period it fails with exit 5 (the
    retention worker purges it when the period ends); --yes in scripts.

    Examples:

      egactl mail purge asha.said@rita.go.tz --dry-run

      egactl mail purge 111000005 --reason "retention ended" --dry-run
    """
    _transition(ref, "purge", reason=reason, yes=yes, dry_run=dry_run,
                confirm="Purge {address}? Its data is erased and the address can be given to someone else")


# -- passwords ------------------------------------------------------------------------------


def reset_password(
    ref: Ref,
    password_file: Annotated[Optional[Path], typer.Option("--password-file", metavar="FILE",
                                                          help="Write the temporary password here (mode 0600) instead of showing it.")] = None,
    yes: Yes = False,
    dry_run: DryRun = False,
):
    """Set a one-time temporary password (shown once; must be changed at first login).

    Examples:

      egactl mail reset-password juma.mrisho@rita.go.tz --yes

      egactl mail reset-password 111000002 --yes --password-file neema.txt
    """
    ctx = context.get()
    api = ctx.api()
    current, etag = client.get_mailbox_with_etag(api, ref)
    address = current["address"]
    if dry_run:
        next_state(current, "reset-password")
        ctx.io.status(f"dry run: would reset the password of {address}; nothing was changed")
        return
    if password_file is not None and password_file.is_dir():
        raise typer.BadParameter(f"{password_file} is a directory", param_hint="--password-file")
    ctx.confirm(f"Reset the password of {address}? The current one stops working", yes=yes)
    result = client.reset_password(api, address, etag)
    if password_file is not None:
        from egactl.plugin.cli import write_private

        write_private(password_file, (result["temporary_password"] + "\n").encode("utf-8"))
        shown = {k: val for k, val in result.items() if k != "temporary_password"}
        shown["password_file"] = str(password_file)
        ctx.success(f"Temporary password for {address} written to {password_file} (mode 0600)")
        ctx.render(shown, [Column("address"), Column("password_file", "PASSWORD FILE"),
                           Column("must_change_at_first_login", "MUST CHANGE")])
        return
    ctx.success(f"Temporary password for {address}; it is shown only now and must be changed at first login")
    ctx.render(result, [Column("address"), Column("temporary_password", "TEMPORARY PASSWORD"),
                        Column("must_change_at_first_login", "MUST CHANGE")])
