"""What several govnet commands share: the SITE argument and the columns of pools, sites and requests."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from egactl.plugin.cli import Column, complete_from, time_for_people
from egactl_govnet import client, rules

complete_site = complete_from(client.SITES, "site", "state")
"""TAB completes site references (INSTITUTION/NAME) the caller may see, from the API (cached briefly)."""
complete_pool = complete_from(client.POOLS, "name", "cidr")
"""TAB completes pool names, from the API."""


def complete_state(incomplete: str) -> list[tuple[str, str]]:
    """TAB completes the onboarding states (they are the rules', not the API's)."""
    return [(state, "") for state in rules.STATES if state.startswith(incomplete.lower())]


SiteArg = Annotated[str, typer.Argument(metavar="SITE", autocompletion=complete_site,
                                        help="INSTITUTION/NAME, e.g. RITA/dodoma-hq (or NAME with --institution).")]
PoolArg = Annotated[str, typer.Argument(metavar="NAME", autocompletion=complete_pool, help="Pool name, e.g. dodoma-1.")]


def _pct(value: Any) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _slash(value: Any) -> str:
    return "" if value is None else f"/{value}"


def _vlans(value: Any) -> str:
    return ", ".join(f"{v['pop']} {v['first']}-{v['last']} ({v['used']}/{v['total']})" for v in value or [])


POOL_COLUMNS = [Column("name"), Column("cidr", "CIDR"), Column("region"),
                Column("default_prefix_length", "DEFAULT", _slash), Column("usage.utilisation", "USED", _pct),
                Column("usage.capacity", "SITES LEFT"), Column("usage.largest_free_block", "LARGEST FREE"),
                Column("vlans", "VLANS (USED/TOTAL)", _vlans),
                Column("usage.free_addresses", "FREE ADDRESSES", wide=True),
                Column("usage.fragmentation", "FRAGMENTATION", _pct, wide=True),
                Column("description", wide=True), Column("created_at", "CREATED", wide=True)]
POOL_DETAIL = [Column("name"), Column("cidr", "CIDR"), Column("region"), Column("description"),
               Column("default_prefix_length", "DEFAULT PREFIX", _slash),
               Column("usage.utilisation", "UTILISATION", _pct), Column("usage.used_addresses", "USED ADDRESSES"),
               Column("usage.free_addresses", "FREE ADDRESSES"), Column("usage.free_blocks", "FREE BLOCKS"),
               Column("usage.largest_free_block", "LARGEST FREE BLOCK"),
               Column("usage.capacity", "SITES LEFT (DEFAULT SIZE)"),
               Column("usage.fragmentation", "FRAGMENTATION", _pct), Column("vlans", "VLANS (USED/TOTAL)", _vlans),
               Column("created_at", "CREATED")]

SITE_COLUMNS = [Column("site"), Column("region"), Column("district"), Column("state"),
                Column("onboarding.prefix", "PREFIX"), Column("onboarding.vlan", "VLAN"),
                Column("onboarding.bandwidth", "BANDWIDTH"),
                Column("onboarding.id", "REQUEST", wide=True), Column("onboarding.pool", "POOL", wide=True),
                Column("onboarding.pop", "POP", wide=True), Column("onboarding.resources", "RESOURCES", wide=True),
                Column("address", wide=True), Column("contact.name", "CONTACT", wide=True),
                Column("contact.phone", "PHONE", wide=True), Column("created_at", "CREATED", wide=True)]
SITE_DETAIL = [Column("site"), Column("region"), Column("district"), Column("address"),
               Column("contact.name", "CONTACT"), Column("contact.phone", "PHONE"), Column("contact.email", "EMAIL"),
               Column("state"), Column("onboarding.id", "REQUEST"), Column("onboarding.pool", "POOL"),
               Column("onboarding.pop", "POP"), Column("onboarding.prefix", "PREFIX"), Column("onboarding.vlan", "VLAN"),
               Column("onboarding.bandwidth", "BANDWIDTH"), Column("onboarding.resources", "RESOURCES"),
               Column("onboarding.hold_until", "HOLD UNTIL"), Column("created_at", "CREATED")]


def _circuit(value: Any) -> str:
    if not value:
        return ""
    return f"{value['provider']} {value['circuit_id']} ({value['committed_rate']})"


def _link(value: Any) -> str:
    if not value:
        return ""
    return f"{value['throughput']}, {value['latency_ms']:g} ms, {value['loss_pct']:g}% loss ({time_for_people(value['tested_at'])})"


ONBOARDING_DETAIL = [Column("id", "REQUEST"), Column("site"), Column("state"), Column("state_since", "SINCE"),
                     Column("pool"), Column("pop", "POP"), Column("prefix_length", "PREFIX LENGTH", _slash),
                     Column("prefix"), Column("vlan", "VLAN"), Column("bandwidth"),
                     Column("circuit", "CIRCUIT", _circuit), Column("link_test", "LINK TEST", _link),
                     Column("resources"), Column("hold_until", "HOLD UNTIL")]
