"""USSD rules shared by the commands (fail fast, before anything is sent) and
the backend (authoritative): how people write a code, which mobile networks
exist, what a callback URL and a subscriber's number must look like, and the
gateway's limits on a screen.

No heavy imports: this module is loaded on every ``egactl ussd`` call.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from egactl.plugin.rules import check_name, normalise_msisdn

PREFIX = "152"
FIRST, LAST = 0, 99
GATEWAY = 0
"""``*152*00#`` is the e-GA gateway itself, never allocated to an institution."""

SCREEN_LIMIT = 182
"""Septets in one GSM-7 USSD screen: the 160 octets of a USSD string, 7 bits a character."""
UCS2_SCREEN_LIMIT = 80
"""UTF-16 code units in one UCS-2 screen: the same 160 octets, 16 bits a unit."""
GSM7, UCS2 = "GSM-7", "UCS-2"

_CODE = re.compile(r"^(?:\*?(?P<prefix>\d+)\*)?(?P<number>\d+)#?$")


class CodeError(ValueError):
    """The text is not one of the ``*152*NN#`` codes; the message says why."""


def parse_code(text: str | int | None) -> int:
    """``*152*07#``, ``152*07``, ``07``, ``7`` → 7.

    Accepts what people type (with or without the leading ``*`` and trailing
    ``#``, one or two digits); refuses other short codes and numbers outside
    00–99 with a message naming the range.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        number = text
    else:
        raw = (text or "").strip().replace(" ", "")
        if not raw:
            raise CodeError("no USSD code given; write it as *152*07#, 152*07, 07 or 7")
        m = _CODE.match(raw)
        if m is None:
            raise CodeError(f"{raw!r} is not a USSD code; write it as *152*07#, 152*07, 07 or 7")
        if m.group("prefix") is not None and m.group("prefix") != PREFIX:
            raise CodeError(f"{raw} is not in the government range *152*00# … *152*99#")
        digits = m.group("number")
        if len(digits) > 2:
            raise CodeError(f"{raw} is outside the range *152*00# … *152*99#")
        number = int(digits)
    if not FIRST <= number <= LAST:
        raise CodeError(f"{number} is outside the range *152*00# … *152*99#")
    return number


def canonical(number: int) -> str:
    """7 → ``*152*07#``: the one form the API and the output use."""
    return f"*{PREFIX}*{number:02d}#"


def two_digits(number: int) -> str:
    """7 → ``07``: the form used in URLs (``/api/v1/ussd/codes/07``)."""
    return f"{number:02d}"


# -- mobile network operators ---------------------------------------------------

NETWORKS = ("Vodacom", "Airtel", "Yas", "Halotel", "TTCL")
"""The mobile networks a code is provisioned on, in the order people list them."""

NETWORK_CODES = {"Vodacom": "64004", "Airtel": "64005", "Yas": "64002", "Halotel": "64009", "TTCL": "64007"}
"""MCC+MNC (Tanzania is MCC 640), what a gateway sends as ``networkCode``."""

_NETWORK_ALIASES = {"tigo": "Yas", "mixx": "Yas", "viettel": "Halotel"}
"""Former and informal names still in use (Tigo became Yas in 2024)."""

PROVISIONING_STATES = ("pending", "live", "failed")


def parse_network(text: str) -> str:
    """``vodacom``, ``VODACOM``, ``tigo`` → the canonical name; ValueError otherwise."""
    key = (text or "").strip().lower()
    for name in NETWORKS:
        if name.lower() == key:
            return name
    if key in _NETWORK_ALIASES:
        return _NETWORK_ALIASES[key]
    raise ValueError(f"unknown network {text!r}; one of {', '.join(NETWORKS)}")


def parse_provisioning_state(text: str) -> str:
    key = (text or "").strip().lower()
    if key not in PROVISIONING_STATES:
        raise ValueError(f"provisioning state {text!r} must be one of {', '.join(PROVISIONING_STATES)}")
    return key


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


def check_text(value: str | None, what: str, *, low: int, high: int) -> str | None:
    """Length rules for names, purposes, references and reasons."""
    n = len((value or "").strip())
    if n < low:
        return f"{what} is required" if n == 0 else f"{what} must be at least {low} characters"
    if n > high:
        return f"{what} must be at most {high} characters"
    return None


LIMITS = {
    "service_name": ("the service name", 2, 80),
    "purpose": ("the purpose", 2, 500),
    "application_reference": ("the application reference", 1, 64),
    "reason": ("the reason", 3, 500),
    "note": ("the note", 0, 500),
}


def check_field(field: str, value: str | None) -> str | None:
    what, low, high = LIMITS[field]
    problem = check_text(value, what, low=low, high=high)
    if problem is None and field == "service_name":
        problem = check_name((value or "").strip(), what)
    return problem


# -- a screen, as the network measures it ----------------------------------------------


def _gsm_septets(text: str) -> int | None:
    """Septets ``text`` takes in GSM 03.38 (an extension character such as ``[`` or ``€``
    is an escape plus one: two), or None if it has a character GSM 03.38 lacks."""
    import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

    if "\x1b" in text:  # the escape septet itself is not a character a screen may carry
        return None
    try:
        return len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        return None


def measure_screen(text: str) -> tuple[str, int, int, list[str]]:
    """(encoding, length in it, the limit in it, the characters that forced UCS-2).

    A screen goes as GSM-7 when every character is in GSM 03.38, limited to 182
    septets; otherwise as UCS-2, limited to 80 UTF-16 code units (a character
    outside the BMP, such as an emoji, is a surrogate pair: two).
    """
    septets = _gsm_septets(text)
    if septets is not None:
        return GSM7, septets, SCREEN_LIMIT, []
    forced = [c for c in dict.fromkeys(text) if _gsm_septets(c) is None]
    return UCS2, len(text.encode("utf-16-le")) // 2, UCS2_SCREEN_LIMIT, forced


def describe_characters(chars: list[str], limit: int = 6) -> str:
    """"’ (U+2019), é (U+00E9)": characters named so a person can find them."""
    shown = [f"{c} (U+{ord(c):04X})" if c.isprintable() else f"U+{ord(c):04X}" for c in chars[:limit]]
    return ", ".join(shown) + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


# -- a subscriber, for the simulator -------------------------------------------------

def parse_phone(text: str) -> str:
    """A Tanzanian mobile number in any usual form → ``+2557XXXXXXXX``; ``RuleError`` (a ValueError) otherwise.

    The SDK's one rule for mobile numbers (valid and mobile by libphonenumber's metadata).
    """
    return normalise_msisdn(text)
