"""egactl govnet config: the customer-edge router configuration of a site.

Rendered here, from a Jinja2 template, so a network team can change what is
generated without touching egactl: the shipped templates live in
``egactl_govnet/templates`` and ``--template FILE`` takes their own. Templates
see only the variables listed in docs/govnet.md; a misspelt one is an error,
never a silently empty line in a router's configuration. Every value a template
prints is escaped for the vendor's syntax (``egactl_govnet.commands.vendors``), so no
stored text can add a command or close a quote; ``--set`` values are refused
up front unless they are printable ASCII a router takes as it is.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import EGACTL_VERSION, Conflict, Institution, InvalidInput, context, enforce
from egactl.plugin.rules import RuleError
from egactl_govnet import client, rules
from egactl_govnet.commands import vendors
from egactl_govnet.commands.common import SiteArg

CONFIGURABLE = (rules.PROVISIONED, rules.ACTIVE)
DEFAULT_ROUTES = ("10.0.0.0/8",)


def shipped_templates() -> dict[str, Any]:
    from importlib import resources

    folder = resources.files("egactl_govnet") / "templates"
    return {p.name[:-3]: p for p in folder.iterdir() if p.name.endswith(".j2")}


def variables(site: dict[str, Any], routes: list[str], extra: dict[str, str]) -> dict[str, Any]:
    """What a template may use (documented in docs/govnet.md)."""
    ob = site["onboarding"]
    prefix = ipaddress.IPv4Network(ob["prefix"])
    first = int(prefix.network_address)
    circuit = ob.get("circuit") or {}
    committed = circuit.get("committed_bps") or ob["bandwidth_bps"]
    nets = [ipaddress.IPv4Network(r) for r in routes]
    return {
        **extra,
        "institution": site["institution"], "site_name": site["name"], "site": site, "onboarding": ob,
        "hostname": f"{site['institution']}-{site['name']}".lower(), "request": ob["id"], "state": ob["state"],
        "region": site["region"], "district": site.get("district"), "address": site.get("address"),
        "pool": ob["pool"], "pop": ob["pop"], "vlan": ob["vlan"],
        "prefix": str(prefix), "prefix_length": prefix.prefixlen, "network": str(prefix.network_address),
        "netmask": str(prefix.netmask), "wildcard": str(prefix.hostmask),
        "pe_address": str(ipaddress.IPv4Address(first + 1)), "ce_address": str(ipaddress.IPv4Address(first + 2)),
        "lan_first": str(ipaddress.IPv4Address(first + 3)) if prefix.num_addresses > 4 else None,
        "lan_last": str(prefix.broadcast_address - 1) if prefix.num_addresses > 4 else None,
        "bandwidth": ob["bandwidth"], "bandwidth_bps": ob["bandwidth_bps"],
        "committed_rate": rules.format_bandwidth(committed), "committed_bps": committed,
        "provider": circuit.get("provider"), "circuit_id": circuit.get("circuit_id"),
        "routes": [{"cidr": str(n), "network": str(n.network_address), "netmask": str(n.netmask)} for n in nets],
        "generated_by": f"egactl {EGACTL_VERSION}",
    }


def render(source: Path | Any, name: str, data: dict[str, Any], vendor: str = "cisco-ios") -> str:
    """Render with every printed value escaped for ``vendor`` (Jinja2's ``finalize``)."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, autoescape=False, finalize=vendors.ESCAPERS[vendor])
    try:
        template = env.from_string(source.read_text(encoding="utf-8"))
        return template.render(**data)
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidInput(f"template {name}, line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise InvalidInput(f"template {name}: {exc.message}",
                           hint="see docs/govnet.md for the variables, or pass one with --set NAME=VALUE") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"template {name}: cannot read it ({exc})") from None


def _pairs(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise InvalidInput(f"--set {item!r}: use NAME=VALUE (e.g. wan_interface=GigabitEthernet0/1)")
        out[key.strip()] = enforce(rules.normalise_config_text, value, f"value of {key.strip()}", flag="--set")
    return out


def _route(value: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value.strip()))
    except ValueError:
        raise RuleError(f"{value!r} is not an IPv4 network like 10.0.0.0/8") from None


def config(site: SiteArg, institution: Institution = None,
           vendor: Annotated[str, typer.Option(help="Router syntax: cisco-ios or mikrotik (the shipped template, and how values are escaped).")] = "cisco-ios",
           template: Annotated[Optional[Path], typer.Option(metavar="FILE", help="Your own Jinja2 template instead (escaped per --vendor).")] = None,
           route: Annotated[Optional[list[str]], typer.Option("--route", metavar="CIDR",
                                                              help="Network reached over GovNet (repeatable; default 10.0.0.0/8).")] = None,
           set_: Annotated[Optional[list[str]], typer.Option("--set", metavar="NAME=VALUE",
                                                             help="An extra template variable, e.g. wan_interface=Gi0/1 (repeatable).")] = None):
    """Render the customer-edge router configuration of a provisioned or active site.

    Examples:

      egactl govnet config RITA/dodoma-hq

      egactl govnet config RITA/dodoma-hq --vendor mikrotik --set wan_interface=ether1
    """
    ctx = context.get()
    routes = [enforce(_route, r, flag="--route") for r in (route or DEFAULT_ROUTES)]
    extra = _pairs(set_ or [])
    if vendor not in vendors.ESCAPERS:
        raise typer.BadParameter(f"must be one of {', '.join(sorted(vendors.ESCAPERS))}", param_hint="--vendor")
    if template is not None:
        if not template.is_file():
            raise InvalidInput(f"--template {template}: no such file")
        source, name = template, str(template)
    else:
        source, name = shipped_templates()[vendor], f"{vendor}.j2"
    record = client.get_site(ctx.api(), site, ctx.institution(institution, required=False))
    ob = record.get("onboarding")
    if not ob or ob["state"] not in CONFIGURABLE:
        state = ob["state"] if ob else "not onboarded"
        raise Conflict(f"site {record['site']} is {state}: only a provisioned or active site has a configuration",
                       hint="provision it first" if state in (rules.REQUESTED, rules.APPROVED) else None)
    text = render(source, name, variables(record, routes, extra), vendor)
    if ctx.fmt in ("json", "jsonl"):
        ctx.render({"site": record["site"], "template": name, "config": text})
    else:
        ctx.io.out.write(text)
