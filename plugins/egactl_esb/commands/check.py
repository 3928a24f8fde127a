"""egactl esb check: is this profile's GovESB connection ready? (the `dr check` style)."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import time
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import Column, EgactlError, context, enforce

COLUMNS = [Column("check"), Column("state"), Column("detail"), Column("ms", "MS", wide=True)]
SEVERITY = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}
NAGIOS_EXIT = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
SKEW_WARNING, SKEW_CRITICAL = 30.0, 300.0
"""Seconds between the bus's clock and this machine's: tokens and signed requests are judged on time."""
CERT_WARNING_DAYS, CERT_CRITICAL_DAYS = 30, 7
"""Days left before the earliest expiry in the bus's certificate chain (as `dr check` judges a site's)."""
PRIVATE_CA_HINT = ("if the bus uses a private CA, trust it with the profile's CA bundle "
                   "(`egactl config set ca_bundle FILE`)")


def check(code: Annotated[Optional[str], typer.Option("--code", metavar="CODE",
                                                      help="The API code to ping (default: the profile's ping_code).")] = None,
          nagios: Annotated[bool, typer.Option("--nagios", help="Monitoring-plugin output: one status line with perfdata; "
                                                                "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.")] = False):
    """Check the profile's GovESB connection end to end: key, the bus's certificates, token, a ping, signatures, clock.

    Each check is OK, WARNING, CRITICAL or UNKNOWN: key (your private key loads
    and is on secp256k1 or prime256v1), bus key (the bus's public key), tls (the
    certificate chain of each HTTPS host of the bus verifies, with the profile's
    CA bundle: WARNING when one expires within 30 days or the bus is reached over
    plain HTTP, CRITICAL within 7 days or when it does not verify), token
    (a fresh token from the token URL), ping (a signed request for the ping code
    answered success: true), signature (the bus accepted your signature and its
    answer verifies with its key), clock (the bus's Date against this machine's:
    WARNING past 30 s, CRITICAL past 300 s). Exit 1 when any check is CRITICAL
    (with --nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

    Examples:

      egactl esb check

      egactl esb check --nagios

      egactl esb check --code RITA-BIRTH-VERIFY -o json
    """
    from egactl_esb import rules

    ctx = context.get()
    if code is not None:
        enforce(rules.check_api_code, code, flag="--code")
    rows = run(ctx, code)
    status = max((r["state"] for r in rows), key=SEVERITY.__getitem__)
    if nagios:
        ctx.io.out.write(nagios_output(rows, status) + "\n")
        ctx.io.out.flush()
        raise typer.Exit(NAGIOS_EXIT[status])
    ctx.render(rows, COLUMNS)
    if ctx.fmt == "table":
        ctx.io.status(f"GovESB connection of profile {ctx.settings.profile}: {status}")
    if status == "CRITICAL":
        raise typer.Exit(1)


def _row(check: str, state: str, detail: str, ms: float | None = None) -> dict[str, Any]:
    return {"check": check, "state": state, "detail": detail, "ms": None if ms is None else round(ms, 1)}


def run(ctx: Any, code: str | None) -> list[dict[str, Any]]:
    from egactl_esb import rules
    from egactl_esb.commands import connection
    from egactl_esb.commands.send import exchange

    rows: list[dict[str, Any]] = []
    conn = connection.resolve(ctx)
    try:
        key = conn.private_key()
        probe = b"egactl esb check"
        rules.verify(probe, rules.sign(probe, key), key.public_key())
        rows.append(_row("key", "OK", f"{rules.curve_name(key)} private key ({conn.sources.get('private_key')})"))
    except EgactlError as exc:
        key = None
        rows.append(_row("key", "CRITICAL", exc.message))
    try:
        bus_public = conn.bus_public_key(ctx)
        rows.append(_row("bus key", "OK", f"{rules.curve_name(bus_public)} ({conn.sources.get('esb_public_key')})"))
    except EgactlError as exc:
        bus_public = None
        rows.append(_row("bus key", "CRITICAL", exc.message))
    rows.append(_tls(ctx, conn))
    started = time.monotonic()
    try:
        _, expires, _ = connection.token(ctx, conn, refresh=True)
        left = int((expires - ctx.now()).total_seconds())
        rows.append(_row("token", "OK", f"client {conn.values['client_id']}: a token for {left} s",
                         (time.monotonic() - started) * 1000))
        token_ok = True
    except EgactlError as exc:
        rows.append(_row("token", "CRITICAL", exc.message, (time.monotonic() - started) * 1000))
        token_ok = False
    ping = code or conn.values.get("ping_code")
    if not (token_ok and key is not None and bus_public is not None):
        rows += [_row("ping", "UNKNOWN", "not tried: the checks above must pass first"),
                 _row("signature", "UNKNOWN", "not tried"), _row("clock", "UNKNOWN", "not tried")]
        return rows
    if not ping:
        rows += [_row("ping", "UNKNOWN", "no ping code: pass --code, or `egactl esb config set --ping-code CODE`"),
                 _row("signature", "UNKNOWN", "not tried"), _row("clock", "UNKNOWN", "not tried")]
        return rows
    try:
        envelope = rules.sign_data(rules.request_data("request", ping, {"ping": True}), key, root="esbrequest")
        result = exchange(ctx, conn, "request", envelope, "json", key=key, bus_public=bus_public,
                          engine=conn.need("engine_url", "--engine-url"))
    except EgactlError as exc:
        bad_signature = getattr(exc, "exit_code", None) == 8
        rows.append(_row("ping", "CRITICAL", exc.message))
        rows.append(_row("signature", "CRITICAL" if bad_signature else "UNKNOWN",
                         "the bus's answer does not verify" if bad_signature else "no answer to judge"))
        rows.append(_row("clock", "UNKNOWN", "no answer to judge"))
        return rows
    refused_signature = not result["success"] and "signature" in result["message"].lower()
    rows.append(_row("ping", "OK" if result["success"] else "CRITICAL",
                     f"{ping}: success {str(result['success']).lower()} ({result['message']})", result["elapsed_ms"]))
    rows.append(_row("signature", "CRITICAL" if refused_signature else "OK",
                     f"the bus refused your signature: {result['message']}" if refused_signature
                     else f"yours accepted, the bus's verified ({result['curve']})"))
    rows.append(_clock(ctx, result.get("date")))
    return rows


def _tls(ctx: Any, conn: Any) -> dict[str, Any]:
    """The bus's certificates, for each host egactl reaches it at over the network (token URL,
    engine): read and judged as `dr check` judges a site's (``certificates.judge``)."""
    from urllib.parse import urlsplit

    from egactl.plugin.cli import certificates
    from egactl_esb import client

    urls = [url for url in (conn.values.get("token_url"), conn.values.get("engine_url")) if url]
    if not urls:
        return _row("tls", "UNKNOWN", "no bus URL is set: nothing to read a certificate from")
    hosts: dict[tuple[str, str, int], None] = {}
    for url in urls:
        if client.on_api(ctx, url):
            continue
        parts = urlsplit(url)
        if parts.hostname:
            hosts[(parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))] = None
    if not hosts:
        if ctx.settings.is_sandbox:
            return _row("tls", "OK", "the sandbox's emulator: nothing crosses a network")
        return _row("tls", "OK", f"the bus is on egactl's API ({client.api_base(ctx)}), whose TLS every command verifies")
    started = time.monotonic()
    results = []
    context = None
    for scheme, host, port in hosts:
        if scheme != "https":
            results.append(("WARNING", f"{host} is reached over plain HTTP: the client secret and the bus's "
                                       "tokens cross the network unencrypted"))
            continue
        if context is None:  # a bundle that cannot be loaded is exit 2 naming it, as for every command
            context = certificates.trusting(ca_file=ctx.settings.ca_bundle)
        try:
            chain = certificates.read(host, port, context=context, timeout=ctx.settings.connect_timeout)
        except TimeoutError:
            results.append(("UNKNOWN", f"{host}:{port} did not answer within {ctx.settings.connect_timeout:g} s"))
            continue
        except OSError as exc:
            import ssl

            if isinstance(exc, ssl.SSLError):
                results.append(("CRITICAL", f"{host}:{port}: the TLS handshake failed ({exc.reason or exc})"))
            else:
                results.append(("UNKNOWN", f"{host}:{port} could not be reached ({exc.strerror or type(exc).__name__})"))
            continue
        verdict = certificates.judge(chain, host, now=ctx.now(), warn_days=CERT_WARNING_DAYS,
                                     crit_days=CERT_CRITICAL_DAYS, untrusted_hint=PRIVATE_CA_HINT)
        results.append((verdict.state, verdict.text if verdict.state == "OK" else f"{host}: {verdict.text}"))
    state = max((s for s, _ in results), key=SEVERITY.__getitem__)
    return _row("tls", state, "; ".join(text for _, text in results), (time.monotonic() - started) * 1000)


def _clock(ctx: Any, date: str | None) -> dict[str, Any]:
    if not date:
        return _row("clock", "UNKNOWN", "the bus's answer has no Date header")
    try:
        # A server in front of the bus may add its own Date: the headers then arrive joined
        # ("Mon, 30 Nov 2026 06:48:18 GMT, Mon, 30 Nov …"); the first is the one to read.
        first = re.match(r"\s*(?:\w{3}, )?\d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \S+", date)
        theirs = email.utils.parsedate_to_datetime(first.group(0) if first else date)
    except (TypeError, ValueError):
        return _row("clock", "UNKNOWN", f"the bus's Date header is not a date: {date[:40]!r}")
    if theirs.tzinfo is None:  # "-0000": UTC by RFC 5322
        theirs = theirs.replace(tzinfo=dt.timezone.utc)
    skew = (theirs - ctx.now()).total_seconds()
    state = "CRITICAL" if abs(skew) > SKEW_CRITICAL else "WARNING" if abs(skew) > SKEW_WARNING else "OK"
    return _row("clock", state, f"the bus's clock is {abs(skew):.0f} s {'ahead of' if skew >= 0 else 'behind'} this machine's")


def nagios_output(rows: list[dict[str, Any]], status: str) -> str:
    bad = [r for r in rows if r["state"] != "OK"]
    text = (f"{len(rows)} checks OK" if not bad else
            "; ".join(f"{r['check']} {r['state']} {r['detail']}" for r in bad))
    text = " ".join(text.replace("|", "/").split())
    perf = " ".join(f"'{r['check']}'={r['ms'] / 1000:.3f}s" for r in rows if r["ms"] is not None)
    return f"ESB {status} - {text}" + (f" | {perf}" if perf else "")
