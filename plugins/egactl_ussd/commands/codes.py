"""egactl ussd's commands on codes: list, show and history; reserve and assign;
suspend, resume, release and update; provision on the mobile networks.

Thin commands: parse and check what was typed (rules), call the API (client),
render. The lifecycle is the backend's to enforce; ``--dry-run`` reads the same
table (``rules.CODE``) to say what would happen.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, Conflict, DryRun, Institution, InvalidInput, Limit,
                               OldestFirst, Yes, context, enforce, page_limit)
from egactl_ussd import client, rules
from egactl_ussd.commands.common import Code, Reason, complete_code, complete_network_or_all, parse_code, when

CodeOpt = Annotated[Optional[str], typer.Option("--code", "-c", metavar="CODE", autocompletion=complete_code,
                                                help="This code instead of the lowest free one.")]
CallbackUrl = Annotated[str, typer.Option("--callback-url", metavar="URL",
                                          help="Where the gateway sends sessions, e.g. https://ussd.rita.go.tz/ussd.")]
Service = Annotated[str, typer.Option("--service", metavar="NAME", help="The service's name, as citizens know it.")]
Purpose = Annotated[str, typer.Option("--purpose", help="What the service does, in a sentence.")]

StateName = Enum("StateName", {s: s for s in rules.STATES}, type=str)  # type: ignore[misc]
ProvisioningName = Enum("ProvisioningName", {s: s for s in rules.PROVISIONING_STATES}, type=str)  # type: ignore[misc]
WHOLE_RANGE = rules.LAST - rules.FIRST + 1


# -- how records look to people ------------------------------------------------------


def _network_detail(networks: Any) -> str:
    if not networks:
        return ""
    return ", ".join(f"{n['network']} {n['state']}" + (f" ({n['note']})" if n.get("note") else "") for n in networks)


LIST_COLUMNS = [Column("code"), Column("state"), Column("institution"), Column("service_name", "SERVICE"),
                Column("networks", "NETWORKS", format=rules.networks_summary),
                Column("quarantine_until", "QUARANTINE UNTIL", format=when),
                Column("callback_url", "CALLBACK URL", wide=True),
                Column("application_reference", "APPLICATION REF", wide=True),
                Column("assigned_at", "ASSIGNED", wide=True)]
"""The table of ``list``; ``-o wide`` adds where the code's sessions go and since when."""

DETAIL = [Column("code"), Column("state"), Column("institution"), Column("service_name", "SERVICE"),
          Column("purpose"), Column("callback_url", "CALLBACK URL"),
          Column("application_reference", "APPLICATION REF"),
          Column("networks", "NETWORKS", format=_network_detail), Column("reason"),
          Column("reserved_at", "RESERVED", format=when), Column("assigned_at", "ASSIGNED", format=when),
          Column("suspended_at", "SUSPENDED", format=when), Column("released_at", "RELEASED", format=when),
          Column("quarantine_until", "QUARANTINE UNTIL", format=when), Column("version")]

ALWAYS = frozenset({"code", "state"})


def render_code(ctx, record: dict[str, Any]) -> None:
    """One code. People see only the fields that say something; machine formats keep
    every column, so a CSV header never depends on the code's state."""
    cols = DETAIL
    if ctx.fmt == "table" and not ctx.query:
        cols = [c for c in DETAIL if c.key in ALWAYS or c.value(record) not in (None, "", [])]
    ctx.render(record, cols)


HISTORY_COLUMNS = [Column("at", "WHEN", format=when), Column("actor", "WHO"), Column("action"),
                   Column("from_state", "FROM"), Column("to_state", "TO"), Column("institution"),
                   Column("reason", "WHY"), Column("role", wide=True), Column("request_id", "REQUEST ID", wide=True)]


# -- reading -------------------------------------------------------------------------


def list_(state: Annotated[Optional[StateName], typer.Option("--state", "-s", case_sensitive=False,
                                                             help="Only codes in this state.")] = None,
          institution: Institution = None,
          not_live: Annotated[bool, typer.Option("--not-live", help="Only held codes not yet live on every mobile network.")] = False,
          limit: Limit = WHOLE_RANGE, all_: All = False):
    """List codes in number order (the default --limit shows the whole range).

    Examples:

      egactl ussd list --state assigned

      egactl ussd list -i EGA -o wide

      egactl ussd list --not-live -o json --query '[].code'
    """
    ctx = context.get()
    items = client.list_codes(ctx.api(), state=state.value if state else None,
                              institution=institution,
                              not_live=not_live, limit=page_limit(limit, all_))
    ctx.render(items, LIST_COLUMNS, empty="No codes match.")


def available(limit: Limit = WHOLE_RANGE, all_: All = False):
    """The codes that can be reserved or assigned now (quarantined codes are not).

    Examples:

      egactl ussd available --limit 5

      egactl ussd available -o json --query '[].code'
    """
    ctx = context.get()
    api = ctx.api()
    items = client.list_codes(api, state="available", limit=page_limit(limit, all_))
    ctx.render(items, [Column("code"), Column("number")], empty="No code is available.")
    if ctx.fmt == "table":
        s = client.summary(api)
        line = f"{s['available']} of {s['allocatable']} codes available"
        if s["in_quarantine"]:
            line += f"; {s['in_quarantine']} in quarantine, the next frees {when(s['next_free_at'])}"
        ctx.io.status(line)


def show(code: Code):
    """Show one code: holder, service, callback, and its status on each mobile network.

    Examples:

      egactl ussd show 99

      egactl ussd show '*152*00#' -o json
    """
    ctx = context.get()
    render_code(ctx, client.show(ctx.api(), parse_code(code)))


def history(code: Code, oldest_first: OldestFirst = False, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """Every change to a code, newest first: what, who, when and why (from the audit log).

    Examples:

      egactl ussd history 99

      egactl ussd history 99 --oldest-first -o json
    """
    ctx = context.get()
    items = client.history(ctx.api(), parse_code(code), limit=page_limit(limit, all_), oldest_first=oldest_first)
    ctx.render(items, HISTORY_COLUMNS, empty="No changes recorded for this code.")


# -- allocating ----------------------------------------------------------------------


def _preview_allocation(ctx, action: str, institution: str, number: int | None, fields: dict[str, Any]) -> None:
    """--dry-run for reserve/assign: check what the backend would check, change nothing."""
    api = ctx.api()
    client.show_institution(api, institution)  # exit 3 if there is no such institution
    if number is None:
        free = client.list_codes(api, state="available", limit=1)
        if not free:
            s = client.summary(api)
            raise Conflict(f"dry run: no code available; {s['in_quarantine']} in quarantine"
                           + (f", the next frees {when(s['next_free_at'])}" if s["next_free_at"] else ""))
        current = free[0]
    else:
        current = client.show(api, number)
        if number == rules.GATEWAY:
            raise Conflict(f"dry run: cannot {action} {current['code']}: it is reserved for the e-GA gateway")
        if not rules.CODE.allows(action, current["state"]):
            raise Conflict("dry run: " + rules.refusal(action, current["code"], current["state"],
                                                       current.get("quarantine_until")))
        if current["state"] == "reserved" and current["institution"] != institution:
            raise Conflict(f"dry run: cannot {action} {current['code']} to {institution}: "
                           f"it is reserved for {current['institution']}")
    if current["state"] == "available":
        quota = client.quota(api, institution)
        if quota["held"] >= quota["quota"]:
            raise Conflict(f"dry run: {institution} already holds {quota['held']} USSD codes (reserved or assigned); "
                           f"its quota is {quota['quota']}")
    target = rules.CODE.next_state(action, current["state"])
    to = "for" if action == "reserve" else "to"
    ctx.io.status(f"dry run: would {action} {current['code']} {to} {institution}; nothing was changed")
    render_code(ctx, {**current, **fields, "state": target, "institution": institution})


def reserve(reference: Annotated[str, typer.Option("--reference", metavar="REF",
                                                   help="The institution's application reference, e.g. RITA/ICT/2026/14.")],
            institution: Institution = None, code: CodeOpt = None, dry_run: DryRun = False):
    """Hold a code for an institution while its application is decided.

    Examples:

      egactl ussd reserve -i RITA --reference RITA/ICT/2026/14

      egactl ussd reserve -i TRA --reference TRA/ICT/2026/3 --code 12 --dry-run
    """
    ctx = context.get()
    inst = ctx.institution(institution)
    number = parse_code(code) if code is not None else None
    reference = enforce(rules.parse_application_reference, reference, flag="--reference")
    if dry_run:
        _preview_allocation(ctx, "reserve", inst, number, {"application_reference": reference})
        return
    row = client.reserve(ctx.api(), institution=inst, application_reference=reference, number=number)
    ctx.success(f"Reserved {row['code']} for {row['institution']}")
    render_code(ctx, row)


def assign(service: Service, purpose: Purpose, callback_url: CallbackUrl,
           institution: Institution = None, code: CodeOpt = None, dry_run: DryRun = False):
    """Give an institution a code: the lowest free one, or --code (which may be its reservation).

    Examples:

      \b
    egactl ussd assign -i RITA --code 01 --service "RITA Vyeti" \\
      --purpose "Birth certificates" --callback-url https://ussd.rita.go.tz/ussd

      \b
    egactl ussd assign -i UDOM --service "UDOM SR" --purpose "Student results" \\
      --callback-url https://ussd.udom.ac.tz/ussd --dry-run
    """
    ctx = context.get()
    inst = ctx.institution(institution)
    number = parse_code(code) if code is not None else None
    fields = {"service_name": enforce(rules.parse_service_name, service, flag="--service"),
              "purpose": enforce(rules.parse_purpose, purpose, flag="--purpose"),
              "callback_url": enforce(rules.parse_callback_url, callback_url, flag="--callback-url")}
    if dry_run:
        _preview_allocation(ctx, "assign", inst, number, fields)
        return
    row = client.assign(ctx.api(), institution=inst, number=number, **fields)
    ctx.success(f"Assigned {row['code']} to {row['institution']} ({row['service_name']}); "
                f"pending on {len(row['networks'])} mobile networks")
    render_code(ctx, row)


# -- changing a held code ----------------------------------------------------------------


def _act(action: str, code: str, reason: str, *, dry_run: bool, yes: bool | None = None, question: str = "") -> None:
    """suspend/resume/release; ``yes`` is None for the verbs that need no confirmation."""
    ctx = context.get()
    number = parse_code(code)
    reason = enforce(rules.parse_reason, reason, flag="--reason")
    api = ctx.api()
    if dry_run or yes is False:
        current = client.show(api, number)
        if number == rules.GATEWAY:
            raise Conflict(f"cannot {action} {current['code']}: it is reserved for the e-GA gateway")
        if not rules.CODE.allows(action, current["state"]):
            raise Conflict(("dry run: " if dry_run else "") + rules.refusal(action, current["code"], current["state"],
                                                                            current.get("quarantine_until")))
        target = rules.CODE.next_state(action, current["state"])
        if dry_run:
            ctx.io.status(f"dry run: would {action} {current['code']} ({current['institution']}): "
                          f"{current['state']} → {target}; nothing was changed")
            render_code(ctx, {**current, "state": target, "reason": reason})
            return
        live = [n["network"] for n in current.get("networks") or [] if n["state"] == "live"]
        if live and action == "release":
            ctx.io.warn(f"{current['code']} is still live on {', '.join(live)}; "
                        "ask those networks to remove it once it is released")
        ctx.confirm(question.format(code=current["code"], institution=current["institution"],
                                    service=current.get("service_name") or "no service"), yes=bool(yes))
    row = client.act(api, number, action, reason)
    past = rules.PAST_TENSE[action]
    line = f"{past.capitalize()} {row['code']} ({row['institution'] or 'now available'})"
    if row["state"] == "released" and row.get("quarantine_until"):
        line += f"; in quarantine until {when(row['quarantine_until'])}"
    ctx.success(line)
    render_code(ctx, row)


def suspend(code: Code, reason: Reason, yes: Yes = False, dry_run: DryRun = False):
    """Take an assigned code out of service for a while (citizens' sessions stop).

    Examples:

      egactl ussd suspend 99 --reason "premium-rate complaints" --dry-run

      egactl ussd suspend 99 --reason "premium-rate complaints" --yes
    """
    _act("suspend", code, reason, dry_run=dry_run, yes=yes,
         question="Suspend {code} ({institution}, {service}) so that citizens dialling it get no service?")


def resume(code: Code, reason: Reason, dry_run: DryRun = False):
    """Put a suspended code back in service.

    Examples:

      egactl ussd resume 99 --reason "charges removed" --dry-run

      egactl ussd resume 99 --reason "charges removed"
    """
    _act("resume", code, reason, dry_run=dry_run)


def release(code: Code, reason: Reason, yes: Yes = False, dry_run: DryRun = False):
    """Give a code back. It stays in quarantine (90 days by default) before anyone else can have it.

    Examples:

      egactl ussd release 99 --reason "service moved to the portal" --dry-run

      egactl ussd release 01 --reason "application refused" --yes
    """
    _act("release", code, reason, dry_run=dry_run, yes=yes,
         question="Release {code} ({institution}, {service}) for good?")


def update(code: Code,
           callback_url: Annotated[Optional[str], typer.Option("--callback-url", metavar="URL", help="New callback URL.")] = None,
           service: Annotated[Optional[str], typer.Option("--service", metavar="NAME", help="New service name.")] = None,
           purpose: Annotated[Optional[str], typer.Option("--purpose", help="New purpose.")] = None,
           dry_run: DryRun = False):
    """Change a held code's callback URL, service name or purpose.

    Examples:

      egactl ussd update 99 --service "e-GA Demo 2" --dry-run

      egactl ussd update 01 --callback-url https://ussd2.rita.go.tz/ussd
    """
    ctx = context.get()
    number = parse_code(code)
    given = {"callback_url": (rules.parse_callback_url, callback_url, "--callback-url"),
             "service_name": (rules.parse_service_name, service, "--service"),
             "purpose": (rules.parse_purpose, purpose, "--purpose")}
    changes = {k: enforce(rule, value, flag=flag) for k, (rule, value, flag) in given.items() if value is not None}
    if not changes:
        raise InvalidInput("nothing to change; pass at least one of --callback-url, --service, --purpose")
    if dry_run:
        current = client.show(ctx.api(), number)
        if current["state"] not in rules.UPDATABLE or number == rules.GATEWAY:
            raise Conflict(f"dry run: cannot update {current['code']}: it is {current['state']}")
        ctx.io.status(f"dry run: would update {current['code']}: {', '.join(changes)}; nothing was changed")
        render_code(ctx, {**current, **changes})
        return
    row = client.update(ctx.api(), number, changes)
    ctx.success(f"Updated {row['code']} ({', '.join(changes)})")
    render_code(ctx, row)


def provision(code: Code,
              network: Annotated[list[str], typer.Option("--network", "-n", metavar="NETWORK",
                                                         autocompletion=complete_network_or_all,
                                                         help=f"{', '.join(rules.NETWORKS)}, or all (repeatable).")],
              state: Annotated[ProvisioningName, typer.Option("--state", "-s", case_sensitive=False,
                                                              help="Where the code stands on those networks.")],
              note: Annotated[Optional[str], typer.Option("--note", help="e.g. the network's ticket number.")] = None,
              dry_run: DryRun = False):
    """Record where a code stands on mobile networks: pending, live or failed (e-GA staff).

    Examples:

      egactl ussd provision 99 -n all -s live

      egactl ussd provision 99 -n airtel -s failed --note "Airtel ticket 4411"
    """
    ctx = context.get()
    number = parse_code(code)
    status = state.value
    if any(n.strip().lower() == "all" for n in network):
        names = list(rules.NETWORKS)
    else:
        names = list(dict.fromkeys(enforce(rules.parse_network, n) for n in network))
    note = (enforce(rules.parse_note, note, flag="--note") if note is not None else None) or None
    api = ctx.api()
    if dry_run:
        current = client.show(api, number)
        if current["state"] not in rules.PROVISIONED:
            raise Conflict(f"dry run: cannot set network status of {current['code']}: it is {current['state']}")
        ctx.io.status(f"dry run: would mark {current['code']} {status} on {', '.join(names)}; nothing was changed")
        return
    row: dict[str, Any] = {}
    for name in names:
        row = client.set_network(api, number, name, status, note)
    ctx.success(f"{row['code']}: {status} on {', '.join(names)}")
    render_code(ctx, row)
