"""egactl ussd: the *152*NN# registry, and a session simulator.

Thin commands: parse and check what was typed (validation), call the API
(client), render. The lifecycle is the backend's to enforce; ``--dry-run``
reads the same table (lifecycle) to say what would happen.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, Conflict, DryRun, EgactlError, Institution, InvalidInput,
                               Limit, Yes, context, page_limit)
from egactl_ussd import client, lifecycle, validation

app = typer.Typer(help="The *152*NN# USSD range: codes, lifecycle, mobile networks, session simulator.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def _group() -> None:
    """The *152*NN# USSD range: codes, lifecycle, mobile networks, session simulator.

    Codes may be written *152*07#, 152*07, 07 or 7 (quote *152*07# in a shell).
    """


# -- arguments and options -----------------------------------------------------------

Code = Annotated[str, typer.Argument(metavar="CODE", help="The code: *152*07#, 152*07, 07 or 7.")]
CodeOpt = Annotated[Optional[str], typer.Option("--code", "-c", metavar="CODE",
                                                help="This code instead of the lowest free one.")]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit log and shown by `history`).")]
CallbackUrl = Annotated[str, typer.Option("--callback-url", metavar="URL",
                                          help="Where the gateway sends sessions, e.g. https://ussd.rita.go.tz/ussd.")]
Service = Annotated[str, typer.Option("--service", metavar="NAME", help="The service's name, as citizens know it.")]
Purpose = Annotated[str, typer.Option("--purpose", help="What the service does, in a sentence.")]

StateName = Enum("StateName", {s: s for s in lifecycle.STATES}, type=str)  # type: ignore[misc]
ProvisioningName = Enum("ProvisioningName", {s: s for s in validation.PROVISIONING_STATES}, type=str)  # type: ignore[misc]
WHOLE_RANGE = validation.LAST - validation.FIRST + 1


def parse_code(text: str) -> int:
    try:
        return validation.parse_code(text)
    except validation.CodeError as exc:
        raise InvalidInput(str(exc)) from None


def _check(field: str, value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if problem := validation.check_field(field, value):
        raise InvalidInput(f"{flag}: {problem}")
    return value


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if problem := validation.check_callback_url(value):
        raise InvalidInput(f"--callback-url: {problem}")
    return value


# -- how records look to people ------------------------------------------------------


def _when(value: Any) -> str:
    """ISO timestamps as people read them; scripts get the ISO form in JSON/CSV."""
    if not value:
        return ""
    text = str(value)
    return text[:16].replace("T", " ") + " UTC" if len(text) >= 16 else text


def _networks(networks: Any) -> str:
    if not networks:
        return ""
    states = {n.get("state") for n in networks}
    if len(states) == 1:
        return f"{states.pop()} on all {len(networks)}"
    live = sum(1 for n in networks if n.get("state") == "live")
    rest = ", ".join(f"{n['network']} {n['state']}" for n in networks if n.get("state") != "live")
    return f"{live}/{len(networks)} live; {rest}"


def _network_detail(networks: Any) -> str:
    if not networks:
        return ""
    return ", ".join(f"{n['network']} {n['state']}" + (f" ({n['note']})" if n.get("note") else "") for n in networks)


LIST_COLUMNS = [Column("code"), Column("state"), Column("institution"), Column("service_name", "SERVICE"),
                Column("networks", "NETWORKS", format=_networks),
                Column("quarantine_until", "QUARANTINE UNTIL", format=_when)]

DETAIL = [Column("code"), Column("state"), Column("institution"), Column("service_name", "SERVICE"),
          Column("purpose"), Column("callback_url", "CALLBACK URL"),
          Column("application_reference", "APPLICATION REF"),
          Column("networks", "NETWORKS", format=_network_detail), Column("reason"),
          Column("reserved_at", "RESERVED", format=_when), Column("assigned_at", "ASSIGNED", format=_when),
          Column("suspended_at", "SUSPENDED", format=_when), Column("released_at", "RELEASED", format=_when),
          Column("quarantine_until", "QUARANTINE UNTIL", format=_when), Column("version")]

ALWAYS = frozenset({"code", "state"})


def render_code(ctx, record: dict[str, Any]) -> None:
    """One code. People see only the fields that say something; machine formats keep
    every column, so a CSV header never depends on the code's state."""
    cols = DETAIL
    if ctx.fmt == "table" and not ctx.query:
        cols = [c for c in DETAIL if c.key in ALWAYS or c.value(record) not in (None, "", [])]
    ctx.render(record, cols)


HISTORY_COLUMNS = [Column("at", "WHEN", format=_when), Column("actor", "WHO"), Column("action"),
                   Column("from_state", "FROM"), Column("to_state", "TO"), Column("institution"),
                   Column("reason", "WHY")]


# -- reading -------------------------------------------------------------------------


@app.command("list")
def list_(state: Annotated[Optional[StateName], typer.Option("--state", "-s", case_sensitive=False,
                                                             help="Only codes in this state.")] = None,
          institution: Annotated[Optional[str], typer.Option("--institution", "-i", metavar="CODE",
                                                             help="Only codes held by this institution.")] = None,
          not_live: Annotated[bool, typer.Option("--not-live", help="Only held codes not yet live on every mobile network.")] = False,
          limit: Limit = WHOLE_RANGE, all_: All = False):
    """List codes in number order (the default --limit shows the whole range)."""
    ctx = context.get()
    items = client.list_codes(ctx.api(), state=state.value if state else None,
                              institution=institution.upper() if institution else None,
                              not_live=not_live, limit=page_limit(limit, all_))
    ctx.render(items, LIST_COLUMNS, empty="No codes match.")


@app.command()
def available(limit: Limit = WHOLE_RANGE, all_: All = False):
    """The codes that can be reserved or assigned now (quarantined codes are not)."""
    ctx = context.get()
    api = ctx.api()
    items = client.list_codes(api, state="available", limit=page_limit(limit, all_))
    ctx.render(items, [Column("code"), Column("number")], empty="No code is available.")
    if ctx.fmt == "table":
        s = client.summary(api)
        line = f"{s['available']} of {s['allocatable']} codes available"
        if s["in_quarantine"]:
            line += f"; {s['in_quarantine']} in quarantine, the next frees {_when(s['next_free_at'])}"
        ctx.io.status(line)


@app.command()
def show(code: Code):
    """Show one code: holder, service, callback, and its status on each mobile network."""
    ctx = context.get()
    render_code(ctx, client.show(ctx.api(), parse_code(code)))


@app.command()
def history(code: Code, limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """Every change to a code, oldest first: what, who, when and why (from the audit log)."""
    ctx = context.get()
    items = client.history(ctx.api(), parse_code(code), limit=page_limit(limit, all_))
    ctx.render(items, HISTORY_COLUMNS, empty="No changes recorded for this code.")


# -- allocating ----------------------------------------------------------------------


def _preview_allocation(ctx, action: str, institution: str, number: int | None, fields: dict[str, Any]) -> None:
    """--dry-run for reserve/assign: check what the backend would check, change nothing."""
    api = ctx.api()
    api.get(f"/api/v1/institutions/{institution}")  # exit 3 if there is no such institution
    if number is None:
        free = client.list_codes(api, state="available", limit=1)
        if not free:
            s = client.summary(api)
            raise Conflict(f"dry run: no code available; {s['in_quarantine']} in quarantine"
                           + (f", the next frees {_when(s['next_free_at'])}" if s["next_free_at"] else ""))
        current = free[0]
    else:
        current = client.show(api, number)
        if number == validation.GATEWAY:
            raise Conflict(f"dry run: cannot {action} {current['code']}: it is reserved for the e-GA gateway")
        if lifecycle.next_state(action, current["state"]) is None:
            raise Conflict("dry run: " + lifecycle.refusal(action, current["code"], current["state"]))
        if current["state"] == "reserved" and current["institution"] != institution:
            raise Conflict(f"dry run: cannot {action} {current['code']} to {institution}: "
                           f"it is reserved for {current['institution']}")
    if current["state"] == "available":
        quota = client.quota(api, institution)
        if quota["held"] >= quota["quota"]:
            raise Conflict(f"dry run: {institution} already holds {quota['held']} USSD codes (reserved or assigned); "
                           f"its quota is {quota['quota']}")
    target = lifecycle.next_state(action, current["state"])
    to = "for" if action == "reserve" else "to"
    ctx.io.status(f"dry run: would {action} {current['code']} {to} {institution}; nothing was changed")
    render_code(ctx, {**current, **fields, "state": target, "institution": institution})


@app.command()
def reserve(reference: Annotated[str, typer.Option("--reference", metavar="REF",
                                                   help="The institution's application reference, e.g. RITA/ICT/2026/14.")],
            institution: Institution = None, code: CodeOpt = None, dry_run: DryRun = False):
    """Hold a code for an institution while its application is decided."""
    ctx = context.get()
    inst = ctx.institution(institution)
    number = parse_code(code) if code is not None else None
    reference = _check("application_reference", reference, "--reference")
    if dry_run:
        _preview_allocation(ctx, "reserve", inst, number, {"application_reference": reference})
        return
    row = client.reserve(ctx.api(), institution=inst, application_reference=reference, number=number)
    ctx.success(f"Reserved {row['code']} for {row['institution']}")
    render_code(ctx, row)


@app.command()
def assign(service: Service, purpose: Purpose, callback_url: CallbackUrl,
           institution: Institution = None, code: CodeOpt = None, dry_run: DryRun = False):
    """Give an institution a code: the lowest free one, or --code (which may be its reservation)."""
    ctx = context.get()
    inst = ctx.institution(institution)
    number = parse_code(code) if code is not None else None
    fields = {"service_name": _check("service_name", service, "--service"),
              "purpose": _check("purpose", purpose, "--purpose"), "callback_url": _check_url(callback_url)}
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
    reason = _check("reason", reason, "--reason")
    api = ctx.api()
    if dry_run or yes is False:
        current = client.show(api, number)
        target = lifecycle.next_state(action, current["state"])
        if number == validation.GATEWAY:
            raise Conflict(f"cannot {action} {current['code']}: it is reserved for the e-GA gateway")
        if target is None:
            raise Conflict(("dry run: " if dry_run else "") + lifecycle.refusal(action, current["code"], current["state"]))
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
    past = lifecycle.past_tense(action)
    line = f"{past.capitalize()} {row['code']} ({row['institution'] or 'now available'})"
    if row["state"] == "released" and row.get("quarantine_until"):
        line += f"; in quarantine until {_when(row['quarantine_until'])}"
    ctx.success(line)
    render_code(ctx, row)


@app.command()
def suspend(code: Code, reason: Reason, yes: Yes = False, dry_run: DryRun = False):
    """Take an assigned code out of service for a while (citizens' sessions stop)."""
    _act("suspend", code, reason, dry_run=dry_run, yes=yes,
         question="Suspend {code} ({institution}, {service}) so that citizens dialling it get no service?")


@app.command()
def resume(code: Code, reason: Reason, dry_run: DryRun = False):
    """Put a suspended code back in service."""
    _act("resume", code, reason, dry_run=dry_run)


@app.command()
def release(code: Code, reason: Reason, yes: Yes = False, dry_run: DryRun = False):
    """Give a code back. It stays in quarantine (90 days by default) before anyone else can have it."""
    _act("release", code, reason, dry_run=dry_run, yes=yes,
         question="Release {code} ({institution}, {service}) for good?")


@app.command()
def update(code: Code,
           callback_url: Annotated[Optional[str], typer.Option("--callback-url", metavar="URL", help="New callback URL.")] = None,
           service: Annotated[Optional[str], typer.Option("--service", metavar="NAME", help="New service name.")] = None,
           purpose: Annotated[Optional[str], typer.Option("--purpose", help="New purpose.")] = None,
           dry_run: DryRun = False):
    """Change a held code's callback URL, service name or purpose."""
    ctx = context.get()
    number = parse_code(code)
    changes = {k: v for k, v in {"callback_url": _check_url(callback_url),
                                 "service_name": _check("service_name", service, "--service"),
                                 "purpose": _check("purpose", purpose, "--purpose")}.items() if v is not None}
    if not changes:
        raise InvalidInput("nothing to change; pass at least one of --callback-url, --service, --purpose")
    if dry_run:
        current = client.show(ctx.api(), number)
        if current["state"] not in lifecycle.UPDATABLE or number == validation.GATEWAY:
            raise Conflict(f"dry run: cannot update {current['code']}: it is {current['state']}")
        ctx.io.status(f"dry run: would update {current['code']}: {', '.join(changes)}; nothing was changed")
        render_code(ctx, {**current, **changes})
        return
    row = client.update(ctx.api(), number, changes)
    ctx.success(f"Updated {row['code']} ({', '.join(changes)})")
    render_code(ctx, row)


@app.command()
def provision(code: Code,
              network: Annotated[list[str], typer.Option("--network", "-n", metavar="NETWORK",
                                                         help=f"{', '.join(validation.NETWORKS)}, or all (repeatable).")],
              state: Annotated[ProvisioningName, typer.Option("--state", case_sensitive=False,
                                                              help="Where the code stands on those networks.")],
              note: Annotated[Optional[str], typer.Option("--note", help="e.g. the network's ticket number.")] = None,
              dry_run: DryRun = False):
    """Record where a code stands on mobile networks: pending, live or failed (e-GA staff)."""
    ctx = context.get()
    number = parse_code(code)
    status = state.value
    try:
        names = list(validation.NETWORKS) if any(n.strip().lower() == "all" for n in network) else \
            list(dict.fromkeys(validation.parse_network(n) for n in network))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    note = _check("note", note, "--note") or None
    api = ctx.api()
    if dry_run:
        current = client.show(api, number)
        if current["state"] not in lifecycle.PROVISIONED:
            raise Conflict(f"dry run: cannot set network status of {current['code']}: it is {current['state']}")
        ctx.io.status(f"dry run: would mark {current['code']} {status} on {', '.join(names)}; nothing was changed")
        return
    row: dict[str, Any] = {}
    for name in names:
        row = client.set_network(api, number, name, status, note)
    ctx.success(f"{row['code']}: {status} on {', '.join(names)}")
    render_code(ctx, row)


# -- quotas ------------------------------------------------------------------------------

quota_app = typer.Typer(help="How many codes an institution may hold: show, set (admin).", no_args_is_help=True)
app.add_typer(quota_app, name="quota")

QUOTA_COLUMNS = [Column("institution"), Column("held"), Column("quota"), Column("free"),
                 Column("granted", "OWN QUOTA", format=lambda v: "yes" if v else "default"), Column("reason")]
QUOTA_DETAIL = [Column("institution"), Column("held", "HOLDS"), Column("quota"), Column("free", "MAY STILL TAKE"),
                Column("default_quota", "DEFAULT QUOTA"),
                Column("granted", "OWN QUOTA", format=lambda v: "yes (granted by e-GA)" if v else "no: the default applies"),
                Column("reason"), Column("set_by", "SET BY"), Column("set_at", "SET", format=_when)]
InstitutionArg = Annotated[str, typer.Argument(metavar="INSTITUTION", help="Institution code, e.g. RITA.")]


def _render_quota(ctx, record: dict[str, Any]) -> None:
    """People see only the fields that say something (no "set by" without a grant)."""
    cols = QUOTA_DETAIL
    if ctx.fmt == "table" and not ctx.query:
        cols = [c for c in QUOTA_DETAIL if c.value(record) not in (None, "")]
    ctx.render(record, cols)


def _institution(code: str) -> str:
    from egactl.plugin.rules import check_institution_code

    code = code.strip().upper()
    if problem := check_institution_code(code):
        raise InvalidInput(problem)
    return code


@quota_app.command("show")
def quota_show(institution: Annotated[Optional[str], typer.Argument(
                   metavar="[INSTITUTION]", help="One institution; without it, every one that holds a code or has its own quota.")] = None,
               limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """How many codes an institution holds, and how many it may hold (reserved and assigned count)."""
    ctx = context.get()
    if institution is not None:
        _render_quota(ctx, client.quota(ctx.api(), _institution(institution)))
        return
    ctx.render(client.quotas(ctx.api(), limit=page_limit(limit, all_)), QUOTA_COLUMNS,
               empty="No institution holds a code or has a quota of its own.")


@quota_app.command("set")
def quota_set(institution: InstitutionArg,
              limit: Annotated[str, typer.Argument(metavar="N|default",
                                                   help="How many codes it may hold, or 'default' to drop its own quota.")],
              reason: Reason, dry_run: DryRun = False):
    """Grant an institution more (or fewer) codes than the default quota (admin; audited)."""
    ctx = context.get()
    inst = _institution(institution)
    text = limit.strip().lower()
    if text == "default":
        value = None
    elif text.isdigit() and int(text) <= validation.LAST:
        value = int(text)
    else:
        raise InvalidInput(f"quota {limit!r} must be a number from 0 to {validation.LAST}, or 'default'")
    reason = _check("reason", reason, "--reason")
    assert reason is not None
    api = ctx.api()
    if dry_run:
        current = client.quota(api, inst)
        after = current["default_quota"] if value is None else value
        ctx.io.status(f"dry run: would set the quota of {inst} from {current['quota']} to {after}"
                      f"{' (the default)' if value is None else ''}; it holds {current['held']}; nothing was changed")
        _render_quota(ctx, {**current, "quota": after, "granted": value is not None,
                            "free": max(0, after - current["held"])})
        return
    row = client.set_quota(api, inst, value, reason)
    ctx.success(f"{row['institution']} may hold {row['quota']} code{'s' if row['quota'] != 1 else ''}"
                f"{'' if row['granted'] else ' (the default quota)'}; it holds {row['held']}")
    if row["held"] > row["quota"]:
        ctx.io.warn(f"{row['institution']} holds more than that already; it can take no new code until it is below")
    _render_quota(ctx, row)


# -- the simulator ---------------------------------------------------------------------


@app.command()
def simulate(code: Code,
             phone: Annotated[str, typer.Option("--phone", metavar="NUMBER",
                                                help="The subscriber the application sees (a placeholder by default).")] = "+255700000000",
             input_: Annotated[Optional[str], typer.Option("--input", metavar="CHOICES",
                                                           help="The choices to key in, joined by '*', e.g. '1*2'.")] = None,
             network: Annotated[str, typer.Option("--network", "-n", metavar="NETWORK",
                                                  help=f"The subscriber's network: {', '.join(validation.NETWORKS)}.")] = "Vodacom",
             url: Annotated[Optional[str], typer.Option("--url", metavar="URL",
                                                        help="Call this application instead of the code's registered callback.")] = None,
             timeout: Annotated[float, typer.Option("--timeout", min=0.1, max=120, metavar="SECONDS",
                                                    help="How long the gateway waits for each reply.")] = 5.0):
    """Play a USSD session against the code's application, as the gateway would.

    In a terminal it shows each screen and asks for your choice; with --input
    it keys the choices in for you (for scripts). Each screen says how the
    network would send it: GSM-7 (at most 182 septets; [ ] { } € ~ ^ | \\
    count two) or, when a character is not in GSM 03.38, UCS-2 (at most 80
    units), naming the characters that forced it. Exit 0 only on a clean END;
    1 if the gateway would reject a reply (no CON/END, screen too long, HTTP
    error); 7 if the application is unreachable or slower than --timeout; 2 if
    the session is still open when the input runs out.
    """
    from egactl_ussd import simulator

    ctx = context.get()
    number = parse_code(code)
    try:
        msisdn = validation.parse_phone(phone)
        net = validation.parse_network(network)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    choices = simulator.split_input(input_)
    if url is not None:
        target = _check_url(url)
        assert target is not None
    else:
        record = client.show(ctx.api(), number)
        target = record.get("callback_url")
        if not target:
            raise InvalidInput(f"{record['code']} has no callback URL (it is {record['state']})",
                               hint="pass --url to try an application directly")
        if record["state"] != "assigned":
            ctx.io.warn(f"{record['code']} is {record['state']}: the gateway would not route it; simulating anyway")
    gateway = simulator.Gateway(target, code=validation.canonical(number), phone=msisdn, network=net,
                                network_code=validation.NETWORK_CODES[net], timeout=timeout)
    people = ctx.fmt == "table"
    ask = _asker(ctx) if ctx.io.interactive else None
    if people:
        show_step = _screen_printer(ctx, ctx.io.out)
    elif ask is not None:  # a person choosing needs the screens even when stdout gets JSON
        show_step = _screen_printer(ctx, ctx.io.err)
    else:
        show_step = lambda step: None  # noqa: E731
    if people:
        ctx.io.status(f"Dialling {gateway.transcript.code} from {msisdn} on {net} → {target}")
    try:
        transcript = simulator.play(gateway, choices, ask=ask, show=show_step, warn=ctx.io.warn)
    except EgactlError:
        if people:
            _show_refused(ctx, gateway.transcript)
        raise
    finally:
        gateway.close()
        if not people:
            ctx.render(gateway.transcript.as_dict())
    if people:
        steps = len(transcript.steps)
        ctx.success(f"Session ended cleanly after {steps} screen{'s' if steps != 1 else ''}")


def _screen_printer(ctx, out):
    echo = not ctx.io.interactive  # at a terminal the person has just typed the choice

    def show(step) -> None:
        label = f"text={step.text!r}"
        if step.input is not None and echo:
            out.write(f"> {step.input}\n")
        out.write(f"── {step.kind} ({_size(step)}, {step.elapsed_ms} ms, {label}) ──\n")
        out.write(step.screen.rstrip("\n") + "\n")
        out.flush()
    return show


def _size(step) -> str:
    """"45/182 GSM-7 septets", or "12/80 UCS-2 units, forced by ’ (U+2019)"."""
    unit = "septets" if step.encoding == validation.GSM7 else "units"
    forced = f", forced by {validation.describe_characters(step.forced_ucs2)}" if step.forced_ucs2 else ""
    return f"{step.screen_length}/{step.screen_limit} {step.encoding} {unit}{forced}"


def _show_refused(ctx, transcript) -> None:
    """What the gateway would have refused, so a person can see what is wrong with it."""
    step = transcript.steps[-1] if transcript.steps else None
    if transcript.outcome != "rejected" or step is None or step.reply is None:
        return
    out = ctx.io.out
    out.write(f"── refused (HTTP {step.status}, {step.reply_length} chars, {step.elapsed_ms} ms, text={step.text!r}) ──\n")
    out.write(step.reply.rstrip("\n") + "\n")
    if step.reply_length > len(step.reply):
        out.write(f"… ({step.reply_length - len(step.reply)} more characters not shown)\n")


def _asker(ctx):
    def ask(step) -> str | None:
        while True:
            ctx.io.err.write("> ")
            ctx.io.err.flush()
            line = ctx.io.inp.readline()
            if line == "":
                return None
            choice = line.strip()
            if choice:
                return choice
    return ask
