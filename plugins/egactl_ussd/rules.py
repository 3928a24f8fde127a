"""USSD rules shared by the commands (fail fast, before anything is sent) and
the backend (authoritative): how people write a code, the life of a code,
which mobile networks exist, what a callback URL, the texts an institution
gives and a subscriber's number must look like.

Pure, no I/O, no heavy imports: this module is loaded on every ``egactl ussd``
call. Every rule follows the SDK's convention: a ``check_*`` returns the problem
or None; a ``parse_*`` returns the normalised value or raises ``RuleError``.

The life of a code
==================

::

    available ──reserve──▶ reserved ──assign──▶ assigned ◀──resume── suspended
        │                     │                   │  └──suspend──▶──┘   │
        └───────assign────────┼──────────────────▶┘                      │
                              │                   release          release
                       release (never live:       ▼                      ▼
                        straight back)          released ◀───────────────┘
                              ▼                   │ quarantine ends (time)
                          available ◀─────────────┘

:data:`CODE` is that table, the only copy: the backend enforces it, the
commands read it to say what a ``--dry-run`` would do, so the documentation,
the dry runs and the server can never disagree.

A released code is not handed on at once: it stays ``released`` for the
quarantine period (90 days by default), so that a citizen dialling an old
code never lands in another institution's service. When the period ends the
code is ``available`` again; no one has to act.

A reserved code that is released was never provisioned on any network, so no
citizen can have learnt it: it goes straight back to ``available``.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from egactl.plugin.rules import (IllegalTransition, Lifecycle, RuleError, Transition, check_name, normalise_msisdn,
                                 time_for_people)

# -- codes ---------------------------------------------------------------------------

PREFIX = "152"
FIRST, LAST = 0, 99
GATEWAY = 0
"""``*152*00#`` is the e-GA gateway itself, never allocated to an institution."""

_CODE = re.compile(r"^(?:\*?(?P<prefix>\d+)\*)?(?P<number>\d+)#?$")


def parse_code(text: str | int | None) -> int:
    """``*152*07#``, ``152*07``, ``07``, ``7`` → 7.

    Accepts what people type (with or without the leading ``*`` and trailing
    ``#``, one or two digits); refuses other short codes and numbers outside
    00–99 with a ``RuleError`` naming the range.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        number = text
    else:
        raw = (text or "").strip().replace(" ", "")
        if not raw:
            raise RuleError("no USSD code given; write it as *152*07#, 152*07, 07 or 7")
        m = _CODE.match(raw)
        if m is None:
            raise RuleError(f"{raw!r} is not a USSD code; write it as *152*07#, 152*07, 07 or 7")
        if m.group("prefix") is not None and m.group("prefix") != PREFIX:
            raise RuleError(f"{raw} is not in the government range *152*00# … *152*99#")
        digits = m.group("number")
        if len(digits) > 2:
            raise RuleError(f"{raw} is outside the range *152*00# … *152*99#")
        number = int(digits)
    if not FIRST <= number <= LAST:
        raise RuleError(f"{number} is outside the range *152*00# … *152*99#")
    return number


def canonical(number: int) -> str:
    """7 → ``*152*07#``: the one form the API and the output use."""
    return f"*{PREFIX}*{number:02d}#"


def two_digits(number: int) -> str:
    """7 → ``07``: the form used in URLs (``/api/v1/ussd/codes/07``)."""
    return f"{number:02d}"


_DIALLED = re.compile(rf"^\*?{PREFIX}\*(?P<number>\d{{1,2}})(?:\*\d+)+#?$")


def parse_dialled(text: str) -> int:
    """What a subscriber dialled with menu choices, ``*152*07*1*2#`` → 7 (the code dialled).

    Citizens report the whole string; only the code is the registry's. A plain
    code is :func:`parse_code`'s; anything else is a ``RuleError``."""
    raw = (text or "").strip().replace(" ", "")
    m = _DIALLED.match(raw)
    if m is None:
        raise RuleError(f"{raw!r} is not a dialled USSD string such as *152*07*1#")
    return parse_code(m.group("number"))


def parse_code_text(text: str) -> str:
    """Any form :func:`parse_code` accepts → ``*152*07#`` (a request body's ``code``)."""
    return canonical(parse_code(text))


# -- the life of a code ----------------------------------------------------------------

STATES = ("available", "reserved", "assigned", "suspended", "released")

CODE = Lifecycle("code", STATES, [
    Transition("reserve", ("available",), "reserved", "held for an institution while its application is decided"),
    Transition("assign", ("available", "reserved"), "assigned", "given to an institution's service"),
    Transition("suspend", ("assigned",), "suspended", "out of service for a while"),
    Transition("resume", ("suspended",), "assigned", "back in service"),
    Transition("release", ("assigned", "suspended"), "released", "given back; in quarantine before anyone else has it"),
    Transition("release", ("reserved",), "available", "never live, so straight back"),
])
"""The life of a code: (action, current state) → next state. Anything not listed is illegal."""

UPDATABLE = frozenset({"reserved", "assigned", "suspended"})
"""States in which the holder may change the service name, purpose or callback URL."""

PROVISIONED = frozenset({"assigned", "suspended"})
"""States in which a code is (or is being) provisioned on the mobile networks."""

HELD = ("reserved", "assigned", "suspended")
"""The states in which a code is an institution's: they count against its quota (a
suspended code is still assigned to it) and keep it from being deleted. A released
code in quarantine is no longer its own."""

PAST_TENSE = {"reserve": "reserved", "assign": "assigned", "suspend": "suspended", "resume": "resumed",
              "release": "released"}


def refusal(action: str, code: str, state: str, quarantine_until: dt.datetime | str | None = None) -> str:
    """The one line a user reads when ``action`` is illegal for ``code`` in ``state``; a released code's
    ``quarantine_until`` (aware, or RFC 3339 as the API writes it) is shown as people read times."""
    needs = " or ".join(CODE.sources(action))
    line = f"cannot {action} {code}: it is {state} (only a code that is {needs} can be {PAST_TENSE[action]})"
    if state == "released" and quarantine_until:
        line += f"; it is in quarantine until {time_for_people(quarantine_until)}"
    return line


class Refused(IllegalTransition):
    """:data:`CODE`'s refusal worded for one code: which code, what the action needs,
    and when a quarantined code frees. Raised in a route, the frame answers it 409."""

    def __init__(self, action: str, code: str, state: str, quarantine_until: dt.datetime | None = None):
        super().__init__(CODE.noun, action, state, CODE.sources(action))
        self.args = (refusal(action, code, state, quarantine_until),)


def next_state(action: str, code: str, state: str, quarantine_until: dt.datetime | None = None) -> str:
    """The state ``action`` leads ``code`` to from ``state``; :class:`Refused` if :data:`CODE` does not allow it."""
    if not CODE.allows(action, state):
        raise Refused(action, code, state, quarantine_until)
    return CODE.next_state(action, state)


# -- mobile network operators ---------------------------------------------------

NETWORKS = ("Vodacom", "Airtel", "Yas", "Halotel", "TTCL")
"""The mobile networks a code is provisioned on, in the order people list them."""

NETWORK_CODES = {"Vodacom": "64004", "Airtel": "64005", "Yas": "64002", "Halotel": "64009", "TTCL": "64007"}
"""MCC+MNC (Tanzania is MCC 640), what a gateway sends as ``networkCode``."""

_NETWORK_ALIASES = {"tigo": "Yas", "mixx": "Yas", "viettel": "Halotel"}
"""Former and informal names still in use (Tigo became Yas in 2024)."""

PROVISIONING_STATES = ("pending", "live", "failed")


def networks_summary(networks: list[dict]) -> str:
    """A code's provisioning in a few words: ``live on all 5``, ``4/5 live; Airtel failed``."""
    if not networks:
        return ""
    states = {n.get("state") for n in networks}
    if len(states) == 1:
        return f"{states.pop()} on all {len(networks)}"
    live = sum(1 for n in networks if n.get("state") == "live")
    rest = ", ".join(f"{n['network']} {n['state']}" for n in networks if n.get("state") != "live")
    return f"{live}/{len(networks)} live; {rest}"


def parse_network(text: str) -> str:
    """``vodacom``, ``VODACOM``, ``tigo`` → the canonical name; ``RuleError`` otherwise."""
    key = (text or "").strip().lower()
    for name in NETWORKS:
        if name.lower() == key:
            return name
    if key in _NETWORK_ALIASES:
        return _NETWORK_ALIASES[key]
    raise RuleError(f"unknown network {text!r}; one of {', '.join(NETWORKS)}")


# -- what an institution gives us ---------------------------------------------------

MAX_URL = 500


def check_callback_url(url: str) -> str | None:
    """None if the gateway could call it, else why not."""
    url = (url or "").strip()
    if not url:
        return "the callback URL is empty"
    if len(url) > MAX_URL:
        return f"the callback URL is longer than {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL the gateway can call (e.g. https://ussd.rita.go.tz/ussd)"
    if parts.fragment:
        return f"{url!r} has a #fragment, which the gateway cannot send"
    return None


def parse_callback_url(url: str) -> str:
    """The URL without surrounding blanks, if :func:`check_callback_url` accepts it."""
    if problem := check_callback_url(url):
        raise RuleError(problem)
    return url.strip()


def _text(value: str | None, what: str, low: int, high: int) -> str:
    """``value`` without surrounding blanks, if its length is within ``low``–``high``."""
    text = (value or "").strip()
    if len(text) < low:
        raise RuleError(f"{what} is required" if not text else f"{what} must be at least {low} characters")
    if len(text) > high:
        raise RuleError(f"{what} must be at most {high} characters")
    return text


def parse_service_name(value: str) -> str:
    """The service's name, as citizens know it: 2–80 characters, no control characters."""
    text = _text(value, "the service name", 2, 80)
    if problem := check_name(text, "the service name"):
        raise RuleError(problem)
    return text


def parse_purpose(value: str) -> str:
    return _text(value, "the purpose", 2, 500)


def parse_application_reference(value: str) -> str:
    return _text(value, "the application reference", 1, 64)


def parse_reason(value: str) -> str:
    """Why a code was suspended, resumed or released, or a quota set (kept in the audit log)."""
    return _text(value, "the reason", 3, 500)


def parse_note(value: str) -> str:
    """A provisioning note (e.g. the network's ticket number); may be empty."""
    return _text(value, "the note", 0, 500)


# -- a subscriber, for the simulator -------------------------------------------------

def parse_phone(text: str) -> str:
    """A Tanzanian mobile number in any usual form → ``+2557XXXXXXXX``; ``RuleError`` otherwise.

    The SDK's one rule for mobile numbers (valid and mobile by libphonenumber's metadata).
    """
    return normalise_msisdn(text)
