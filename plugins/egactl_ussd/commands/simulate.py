"""egactl ussd simulate: play a USSD session against an institution's application,
as the gateway would (the gateway itself is ``commands/gateway.py``, loaded only
when a session is played)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl.plugin.cli import EgactlError, InvalidInput, context, enforce
from egactl_ussd import client, rules
from egactl_ussd.commands.common import Code, complete_network, parse_code


def simulate(code: Code,
             phone: Annotated[str, typer.Option("--phone", metavar="NUMBER",
                                                help="The subscriber the application sees (a placeholder by default).")] = "+255700000000",
             input_: Annotated[Optional[str], typer.Option("--input", metavar="CHOICES",
                                                           help="The choices to key in, joined by '*', e.g. '1*2'.")] = None,
             network: Annotated[str, typer.Option("--network", "-n", metavar="NETWORK", autocompletion=complete_network,
                                                  help=f"The subscriber's network: {', '.join(rules.NETWORKS)}.")] = "Vodacom",
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

    In the sandbox, *152*99# is e-GA's demo application, served by the sandbox.

    Examples:

      egactl ussd simulate 99 --input '1*2'

      egactl ussd simulate 99 --input '1*1' -o json

      egactl ussd simulate 99 --network airtel --phone 0754123456 --input 2
    """
    from egactl_ussd.commands import gateway as simulator

    ctx = context.get()
    number = parse_code(code)
    msisdn = enforce(rules.parse_phone, phone)
    net = enforce(rules.parse_network, network)
    choices = simulator.split_input(input_)
    if url is not None:
        target = enforce(rules.parse_callback_url, url, flag="--url")
    else:
        record = client.show(ctx.api(), number)
        target = record.get("callback_url")
        if not target:
            raise InvalidInput(f"{record['code']} has no callback URL (it is {record['state']})",
                               hint="pass --url to try an application directly")
        if record["state"] != "assigned":
            ctx.io.warn(f"{record['code']} is {record['state']}: the gateway would not route it; simulating anyway")
    gateway = simulator.Gateway(target, code=rules.canonical(number), phone=msisdn, network=net,
                                network_code=rules.NETWORK_CODES[net], timeout=timeout,
                                transport=_transport_for(ctx, target, simulator))
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


def _api_base(ctx) -> str:
    """The API's base URL as the API client uses it: the in-process sandbox is ``http://sandbox``."""
    return "http://sandbox" if ctx.settings.is_sandbox else ctx.settings.api_url


def _transport_for(ctx, url: str, simulator):
    """How to reach the application: an application on the API's own address (the
    reference backend's demo, the sandbox's *152*99#) through the API client; any other
    over the network, as the gateway would."""
    base_path = simulator.on_api(url, _api_base(ctx))
    return simulator.ThroughApi(ctx.api(), base_path) if base_path is not None else None


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
    from egactl_ussd.commands.gateway import GSM7, describe_characters

    unit = "septets" if step.encoding == GSM7 else "units"
    forced = f", forced by {describe_characters(step.forced_ucs2)}" if step.forced_ucs2 else ""
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
