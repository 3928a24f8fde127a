"""egactl sms senders …: sender IDs, requested by institutions and approved by e-GA."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, DryRun, Institution, Limit, NotFound, context, old_flags,
                               page_limit)
from egactl_sms import client, rules
from egactl_sms.commands.common import check_sender, complete_sender_states, complete_senders

app = typer.Typer(help="Sender IDs (what the phone shows as the sender): request, approve, withdraw, list.",
                  no_args_is_help=True)

COLUMNS = [Column("name", "SENDER ID"), Column("institution"), Column("status", "STATE"), Column("purpose"),
           Column("requested_by", "REQUESTED BY"), Column("decided_by", "DECIDED BY"),
           Column("decided_at", "DECIDED"),
           Column("requested_at", "REQUESTED", wide=True), Column("decision_note", "NOTE", wide=True)]
STATES = rules.SENDER_STATES

SenderName = Annotated[str, typer.Argument(metavar="SENDER", autocompletion=complete_senders,
                                           help="Sender ID: up to 11 letters, digits and spaces.")]
Note = Annotated[Optional[str], typer.Option("--note", help="Why (kept in the audit log).")]


@app.command("list")
@old_flags({"--status": "--state"})
def list_(institution: Institution = None,
          state: Annotated[Optional[str], typer.Option(
              "--state", "-s", metavar="STATE", autocompletion=complete_sender_states,
              help=f"Only sender IDs in this state: {', '.join(STATES)}.")] = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List sender IDs.

    Examples:

      egactl sms senders list --state approved

      egactl sms senders list -i RITA -o json
    """
    ctx = context.get()
    if state is not None and state not in STATES:
        raise typer.BadParameter(f"must be one of {', '.join(STATES)}", param_hint="--state")
    items = client.senders(ctx.api(), limit=page_limit(limit, all_), status=state,
                          institution=institution.upper() if institution else None)
    ctx.render(items, COLUMNS, empty="No sender IDs match.")


@app.command("request")
def request(name: SenderName, institution: Institution = None,
            purpose: Annotated[Optional[str], typer.Option("--purpose", help="What it will be used for.")] = None,
            dry_run: DryRun = False):
    """Ask e-GA for a sender ID for your institution (pending until approved).

    Examples:

      egactl sms senders request "RITA SMS" -i RITA --purpose "birth certificates"

      egactl sms senders request "RITA SMS" -i RITA --dry-run
    """
    ctx = context.get()
    body = {"institution": ctx.institution(institution), "name": check_sender(name), "purpose": purpose}
    if dry_run:
        ctx.notice(f"dry run: would request sender ID {body['name']!r} for {body['institution']}")
        ctx.render({**body, "status": "pending"}, COLUMNS)
        return
    out = client.request_sender(ctx.api(), body)
    ctx.success(f"Requested sender ID {out['name']!r} for {out['institution']}; an e-GA administrator must approve it")
    ctx.render(out, COLUMNS)


def _decide(verb: str, name: str, note: str | None, dry_run: bool) -> None:
    ctx = context.get()
    name = check_sender(name) or name
    current, etag = client.sender_with_etag(ctx.api(), name)
    if dry_run:
        ctx.notice(f"dry run: would {verb} sender ID {current['name']!r} of {current['institution']} "
                      f"(now {current['status']})")
        return
    # A decision about the request as read: if another admin decided meanwhile, 412 (exit 5).
    out = client.decide_sender(ctx.api(), name, verb, note, etag=etag)
    ctx.success(f"Sender ID {out['name']!r} of {out['institution']} is {out['status']}")
    ctx.render(out, COLUMNS)


@app.command("approve")
def approve(name: SenderName, note: Note = None, dry_run: DryRun = False):
    """Approve a requested sender ID (e-GA administrators).

    Examples:

      egactl sms senders approve "TRA KODI" --note "ticket 4411"

      egactl sms senders approve "TRA KODI" --dry-run
    """
    _decide("approve", name, note, dry_run)


@app.command("reject")
def reject(name: SenderName, note: Note = None, dry_run: DryRun = False):
    """Refuse a sender ID, or revoke its approval (e-GA administrators).

    Examples:

      egactl sms senders reject "TRA KODI" --note "name too close to another"

      egactl sms senders reject "TRA KODI" --dry-run
    """
    _decide("reject", name, note, dry_run)


@app.command("withdraw")
def withdraw(name: SenderName, institution: Institution = None,
             reason: Annotated[Optional[str], typer.Option("--reason", "-r", metavar="TEXT",
                                                           help="Why (kept in the audit log).")] = None,
             dry_run: DryRun = False):
    """Take back your institution's own sender ID, requested or approved.

    A withdrawn sender ID can no longer be sent from (sends naming it are
    refused, exit 2); it is final: request another sender ID to send again. The
    institution's operators (or an e-GA administrator) withdraw it; the help
    desk cannot. Withdrawing one already withdrawn or rejected is exit 5.

    Examples:

      egactl sms senders withdraw RITA -i RITA --reason "replaced by RITA SMS" --dry-run

      egactl sms senders withdraw RITA -i RITA --reason "replaced by RITA SMS"
    """
    ctx = context.get()
    name = check_sender(name) or name
    api = ctx.api()
    current, etag = client.sender_with_etag(api, name)
    inst = ctx.institution(institution, required=False)  # -i, else the profile's: the sender ID must be its
    if inst is not None and current["institution"] != inst:
        raise NotFound(f"{inst} has no sender ID {current['name']!r} (it is {current['institution']}'s)",
                       hint=f"pass -i {current['institution']} if you mean that one")
    # Judged by the backend exactly as the withdrawal (role, state), and with --dry-run rolled back.
    # The sender ID as read: if it was decided or withdrawn meanwhile, 412 (exit 5).
    out = client.withdraw_sender(api, name, reason, etag=etag, dry_run=dry_run)
    if dry_run:
        ctx.notice(f"dry run: would withdraw sender ID {current['name']!r} of {current['institution']} "
                      f"(now {current['status']})")
        ctx.render(out, COLUMNS)
        return
    ctx.success(f"Withdrew sender ID {out['name']!r} of {out['institution']}; it can no longer be sent from")
    ctx.render(out, COLUMNS)
