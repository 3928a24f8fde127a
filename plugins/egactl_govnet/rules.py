"""GovNet's rules: its input rules and the life of an onboarding, pure (no I/O).

Shared by the commands (fail fast, before anything is sent) and the backend
(authoritative, for callers other than egactl). They follow the SDK's
convention (``egactl.plugin.rules``): a ``check_*`` returns the problem or
None; a ``normalise_*``/``parse_*`` returns the value as it is stored and
raises ``RuleError`` with the one line a person reads. The commands apply them
with ``egactl.plugin.cli.enforce`` (exit 2), request bodies with
``egactl.plugin.server.rule_validator`` (422).

Only the standard library and the SDK's rules are imported here: this module
loads on every ``egactl govnet`` call.
"""

from __future__ import annotations

import ipaddress
import re

from egactl.plugin.rules import (Lifecycle, RuleError, Transition, check_institution_code, check_name, enforce, format_rate,
                                 parse_rate)

# Sites are named by region, and GovNet has a point of presence (PoP) at each
# mainland regional headquarters; a PoP is named after its region.
REGIONS = (
    "Arusha", "Dar es Salaam", "Dodoma", "Geita", "Iringa", "Kagera", "Katavi", "Kigoma", "Kilimanjaro", "Lindi",
    "Manyara", "Mara", "Mbeya", "Morogoro", "Mtwara", "Mwanza", "Njombe", "Pwani", "Rukwa", "Ruvuma", "Shinyanga",
    "Simiyu", "Singida", "Songwe", "Tabora", "Tanga",
)
POPS = tuple(r.upper().replace(" ", "-") for r in REGIONS)

# A site's block must leave room for the GovNet (PE) and customer-edge (CE) addresses.
MIN_PREFIX_LENGTH = 8
MAX_PREFIX_LENGTH = 30
VLAN_MIN, VLAN_MAX = 1, 4094

MIN_BANDWIDTH = 64_000
MAX_BANDWIDTH = 100_000_000_000

_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
_POOL_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")


def _key(value: str) -> str:
    return re.sub(r"[\s_-]+", "-", value.strip()).upper()


def normalise_region(value: str) -> str:
    """"dar es salaam", "DAR-ES-SALAAM" → "Dar es Salaam"."""
    key = _key(value)
    for region, pop in zip(REGIONS, POPS):
        if key == pop:
            return region
    raise RuleError(f"unknown region {value!r} (one of: {', '.join(REGIONS)})")


def normalise_pop(value: str) -> str:
    """"Dodoma", "dar es salaam" → "DODOMA", "DAR-ES-SALAAM"."""
    key = _key(value)
    if key not in POPS:
        raise RuleError(f"unknown PoP {value!r} (GovNet PoPs: {', '.join(POPS)})")
    return key


def pop_of_region(region: str) -> str:
    return _key(region)


def parse_bandwidth(value: str) -> int:
    """"20M", "1G", "512k", "1.5G", "20Mbps" → bits per second (the SDK's rate rule).

    Units are SI (k = 1000) and always bits: "20MB/s" is refused, not guessed,
    because a byte rate read as a bit rate is off by eight.
    """
    return parse_rate(value, "bandwidth", minimum=MIN_BANDWIDTH, maximum=MAX_BANDWIDTH)


format_bandwidth = format_rate
"""20_000_000 → "20M", 19_500_000 → "19.5M": exact, so it parses back to the same rate."""


def normalise_bandwidth(value: str) -> str:
    """A bandwidth as the API carries it: "20 Mbps" → "20M" (the exact rate, as :func:`format_bandwidth` writes it)."""
    return format_bandwidth(parse_bandwidth(value))


def parse_pool_cidr(value: str) -> ipaddress.IPv4Network:
    """An IPv4 network written exactly (no host bits), /8 to /30."""
    text = str(value).strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise RuleError(f"{value!r} is not an IPv4 network in CIDR form (e.g. 10.20.0.0/16)") from None
    if net.version != 4:
        raise RuleError(f"{value!r}: GovNet pools are IPv4")
    if "/" not in text:
        raise RuleError(f"{value!r} has no prefix length (e.g. {net.network_address}/16)")
    if str(net.network_address) != text.split("/")[0]:
        raise RuleError(f"{value!r} has host bits set; did you mean {net}?")
    if not MIN_PREFIX_LENGTH <= net.prefixlen <= MAX_PREFIX_LENGTH:
        raise RuleError(f"pool {net} must be between /{MIN_PREFIX_LENGTH} and /{MAX_PREFIX_LENGTH}")
    return net


def normalise_pool_cidr(value: str) -> str:
    """A pool's network as the API carries it, checked by :func:`parse_pool_cidr`."""
    return str(parse_pool_cidr(value))


def check_prefix_length(length: int, pool: ipaddress.IPv4Network | None = None) -> str | None:
    """A site's prefix length: /8–/30, and no larger a block than its pool. None, or the problem."""
    if not MIN_PREFIX_LENGTH <= length <= MAX_PREFIX_LENGTH:
        return f"prefix length /{length} is outside /{MIN_PREFIX_LENGTH}–/{MAX_PREFIX_LENGTH}"
    if pool is not None and length < pool.prefixlen:
        return f"prefix length /{length} is larger than the pool {pool} itself"
    return None


def parse_prefix_length(value: str | int) -> int:
    """"29" or "/29" → 29."""
    text = str(value).strip().lstrip("/")
    if not text.isdigit():
        raise RuleError(f"prefix length {value!r} is not a number like 29 or /29")
    return enforce(check_prefix_length, int(text))


def parse_vlan_range(value: str) -> tuple[str, int, int]:
    """"DODOMA=100-899" (or "dodoma:100-899", or one VLAN "DODOMA=100") → ("DODOMA", 100, 899)."""
    pop_text, sep, span = str(value).replace(":", "=", 1).partition("=")
    if not sep:
        raise RuleError(f"VLAN range {value!r} must look like POP=FIRST-LAST (e.g. DODOMA=100-899)")
    pop = normalise_pop(pop_text)
    first_text, dash, last_text = span.strip().partition("-")
    if not first_text.strip().isdigit() or (dash and not last_text.strip().isdigit()):
        raise RuleError(f"VLAN range {value!r} must look like POP=FIRST-LAST (e.g. DODOMA=100-899)")
    first = int(first_text)
    last = int(last_text) if dash else first
    if not (VLAN_MIN <= first <= VLAN_MAX and VLAN_MIN <= last <= VLAN_MAX):
        raise RuleError(f"VLAN range {value!r}: VLAN ids are {VLAN_MIN}–{VLAN_MAX}")
    if first > last:
        raise RuleError(f"VLAN range {value!r}: {first} is after {last}")
    return pop, first, last


def check_vlan_ranges(ranges: list[tuple[str, int, int]]) -> str | None:
    """One range per PoP within a pool (a second one is almost always a typo). None, or the problem."""
    seen: set[str] = set()
    for pop, _, _ in ranges:
        if pop in seen:
            return f"PoP {pop} is given two VLAN ranges; give it one"
        seen.add(pop)
    return None


def normalise_site_name(value: str) -> str:
    name = str(value).strip()
    if not _NAME_RE.fullmatch(name):
        raise RuleError(f"site name {value!r} must be 1-40 lower-case letters, digits or '-' (e.g. dodoma-hq)")
    return name


def stored_phone_forms(phone: str) -> list[str]:
    """The forms a contact's number (E.164, ``+255754000111``) may be stored in: E.164 since
    the phone rule, and the national ``0754000111`` or ``255754000111`` of rows stored before it."""
    if phone.startswith("+255"):
        return [phone, "0" + phone[4:], phone[1:]]
    return [phone]


def normalise_contact_name(value: str) -> str:
    """A contact person's name: the shared rule for names (no formula start, no control character),
    and, since it reaches the site's router configuration, text a router takes as it is."""
    return enforce(check_name, normalise_config_text(value, "contact name"), "contact name")


def normalise_pool_name(value: str) -> str:
    name = str(value).strip()
    if not _POOL_NAME_RE.fullmatch(name):
        raise RuleError(f"pool name {value!r} must be 1-32 lower-case letters, digits or '-' (e.g. dodoma-1)")
    return name


def parse_site_ref(value: str, institution: str | None) -> tuple[str, str]:
    """"RITA/dodoma-hq" → ("RITA", "dodoma-hq"); "dodoma-hq" takes the default institution."""
    inst, sep, name = str(value).strip().rpartition("/")
    if not sep:
        if not institution:
            raise RuleError(f"site {value!r}: say whose, as INSTITUTION/SITE (e.g. RITA/{name or 'dodoma-hq'}) or with --institution")
        inst = institution
    return enforce(check_institution_code, inst.strip().upper()), normalise_site_name(name)


# Text that reaches a router's configuration (circuit provider and id, a site's
# district, address and contact, a pool's description, ``config --set`` values)
# must be something every vendor's syntax carries as it is: printable ASCII on one
# line. Cisco IOS has no escapes at all (a line break starts a new command, "?"
# asks for help while pasting) and RouterOS gives '"', '\\', '$' and '?' meanings
# inside its quoted strings. The templates escape again when they render, for
# data stored before this rule; this rule keeps such text out in the first place.
CONFIG_TEXT_REFUSED = '"\\?$'


def _describe(ch: str) -> str:
    import unicodedata

    name = unicodedata.name(ch, None)
    code = f"U+{ord(ch):04X}"
    if ch in "\n\r\t":
        return {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}[ch] + f" ({code})"
    if ord(ch) < 0x20 or ord(ch) == 0x7F or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
        return f"a control character ({code}{', ' + name if name else ''})"
    if ord(ch) > 0x7E:
        return f"{ch!r} ({code}), which is not ASCII,"
    return f"{ch!r}"


def normalise_config_text(value: str, what: str = "value") -> str:
    """Text bound for a router configuration: one line of printable ASCII without '"', '\\', '?' or '$'.

    Returns it stripped; raises RuleError naming the first offending character.
    """
    text = str(value).strip()
    for i, ch in enumerate(text):
        if not (" " <= ch <= "~") or ch in CONFIG_TEXT_REFUSED:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise RuleError(f"{what} {shown!r} holds {_describe(ch)} at position {i + 1}; a router configuration "
                             f"takes printable ASCII without {' '.join(CONFIG_TEXT_REFUSED)}")
    return text


# -- the life of an onboarding -----------------------------------------------------------

REQUESTED, APPROVED, PROVISIONED, ACTIVE, SUSPENDED, DECOMMISSIONED = (
    "requested", "approved", "provisioned", "active", "suspended", "decommissioned")

STATES = (REQUESTED, APPROVED, PROVISIONED, ACTIVE, SUSPENDED, DECOMMISSIONED)
OPEN_STATES = STATES[:-1]
"""States in which a site's request is still open (a site has at most one open request)."""

WITH_RESOURCES = (PROVISIONED, ACTIVE, SUSPENDED)
"""States in which the site holds a prefix and a VLAN."""

ONBOARDING = Lifecycle("site", STATES, [
    Transition("approve", (REQUESTED,), APPROVED, "e-GA accepts the request"),
    Transition("provision", (APPROVED,), PROVISIONED, "the next free prefix and VLAN, and the circuit, are recorded"),
    Transition("activate", (PROVISIONED,), ACTIVE, "a passing link test puts the site in service"),
    Transition("suspend", (ACTIVE,), SUSPENDED, "out of service, keeping its prefix and VLAN"),
    Transition("resume", (SUSPENDED,), ACTIVE, "back in service"),
    Transition("offboard", OPEN_STATES, DECOMMISSIONED, "closed; a prefix and VLAN are held, then go back to the pool"),
])
"""Every legal step of an onboarding request, in one table. The backend is the authority
(``next_state`` raises ``IllegalTransition``, a 409); the commands use the table only to word
their help and dry runs."""

ACTIONS = ONBOARDING.actions
