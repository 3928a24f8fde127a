"""Shared validation rules, for a plugin's commands (fail fast, before anything
is sent) and its backend (authoritative). No heavy imports.

The convention, one for every plugin:

- ``check_<what>(value, ...) -> str | None``: ``None`` when the value is
  acceptable, otherwise the problem, as the one line a user reads
  (e.g. ``"institution code 'x' must be 2-32 letters, ..."``). Use it where the
  message goes somewhere else (a pydantic validator, a CSV row's error).
- A rule that normalises returns the normalised value and raises
  :class:`RuleError` (the one exception type of rules) with that same line.
  :func:`enforce` turns any ``check_*`` into such a rule.

The command side turns a :class:`RuleError` into a usage error (exit 2) with
``egactl.plugin.cli.enforce``; the backend side turns it into a 422 with
``egactl.plugin.server.invalid`` (or, for a request body's field, a pydantic
validator made with ``egactl.plugin.server.rule_validator``).

A resource with states (a USSD code, a mailbox, a site's onboarding) declares
its life once, as a :class:`Lifecycle` of :class:`Transition` rows: the
backend enforces it (``next_state`` raises :class:`IllegalTransition`, which
the route frame answers as a 409), the commands word their help and dry runs
from it, and the docs print its table.

Times in any text for people (a rule's error, a Problem's detail, a notice)
take :func:`time_for_people`: ``2026-11-29 22:47 EAT``, the one format people
read times in, on both sides (a JSON field stays RFC 3339). A time people type
(a TIME option) is read by :func:`time_from_people`: that same form, or one
without a zone (East Africa Time, like every time they read), or RFC 3339.
Arithmetic on the clock people live by (a day's quiet hours, a local midnight)
takes :func:`eat_zone`, the zone both of those use.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from egactl.rules import KINDS, check_email, check_institution_code, check_name, normalise_kind
from egactl.times import eat_zone
from egactl.times import for_people as time_for_people
from egactl.times import from_people

__all__ = [
    "KINDS", "PREVIOUS", "IllegalTransition", "Lifecycle", "RuleError", "Transition", "check_email",
    "check_institution_code", "check_msisdn", "check_name", "check_reference", "eat_zone", "enforce", "format_duration",
    "format_rate", "name_matches", "name_tokens", "normalise_kind", "normalise_msisdn", "normalise_phone",
    "parse_duration", "parse_rate", "split_reference", "time_for_people", "time_from_people",
]


class RuleError(ValueError):
    """A value breaks a rule; the message is the one line a user reads."""


def enforce(check: Callable[..., str | None], value: Any, *args: Any, **kwargs: Any) -> Any:
    """``value`` if ``check(value, ...)`` finds no problem, else :class:`RuleError` with the problem."""
    problem = check(value, *args, **kwargs)
    if problem:
        raise RuleError(problem)
    return value


def time_from_people(value: str, what: str = "time") -> dt.datetime:
    """A time a person typed, as an aware datetime; :class:`RuleError` with the one line to show if not one.

    ``2026-11-29 22:47 EAT`` (the form egactl shows times in), ``2026-11-29 22:47`` or
    ``2026-11-29`` (East Africa Time: a time without a zone is read as people read
    every time egactl shows), ``2026-11-29 19:47 UTC`` or another zone's name
    (``Africa/Nairobi``), RFC 3339 with an offset (``2026-11-29T19:47Z``,
    ``2026-11-29T22:47+03:00``). ``what`` names the value in the message. Whether it is
    in the past is the caller's call (on the server, ``backend().now()``).
    """
    try:
        return from_people(value, what)
    except ValueError as exc:
        raise RuleError(str(exc)) from None


def split_reference(value: str, what: str = "name") -> tuple[str, str]:
    """An ``INSTITUTION/NAME`` reference (e.g. ``RITA/payments``) as ``("RITA", "payments")``.

    The institution code is upper-cased and checked with
    :func:`check_institution_code`, the name with :func:`check_name`; a value
    without exactly one ``/`` or with an empty part is a :class:`RuleError`.
    """
    institution, sep, name = value.strip().partition("/")
    if not sep or not institution or not name.strip() or "/" in name:
        raise RuleError(f"{value!r} must be INSTITUTION/{what.upper().replace(' ', '-')}, e.g. RITA/payments")
    institution = enforce(check_institution_code, institution.strip().upper())
    return institution, enforce(check_name, name.strip(), what)


def check_reference(value: str, what: str = "name") -> str | None:
    """:func:`split_reference` as a ``check_*`` rule: None, or the problem."""
    try:
        split_reference(value, what)
    except RuleError as exc:
        return str(exc)
    return None


# -- Tanzanian mobile numbers ------------------------------------------------------------

COUNTRY_CODE = "255"
NATIONAL_DIGITS = 9
_SEPARATORS = str.maketrans("", "", " -.()/\t\u00a0")


@functools.cache
def _tz_number_type() -> Callable[[str], int]:
    """``number_type`` for Tanzanian national numbers, with phonenumbers' metadata
    compiled once.

    ``phonenumbers.number_type()`` re-resolves the region, the metadata and
    every pattern on each call (about 20 µs); a bulk send checks a million
    numbers. This makes the same decision as phonenumbers'
    ``_number_type_helper`` (the general description first, then each special
    type in phonenumbers' order, then fixed line and mobile) over the same
    metadata for TZ, with the patterns compiled once (about 2 µs).
    """
    from phonenumbers import PhoneNumberType as T
    from phonenumbers.phonemetadata import PhoneMetadata

    md = PhoneMetadata.metadata_for_region("TZ")

    def desc(d):
        if d is None or not d.national_number_pattern:
            return None
        return frozenset(d.possible_length or ()), re.compile(d.national_number_pattern)

    def matches(d, nsn: str) -> bool:
        if d is None:
            return False
        lengths, pattern = d
        if lengths and len(nsn) not in lengths:
            return False
        return pattern.fullmatch(nsn) is not None

    general = desc(md.general_desc)
    special = [(desc(getattr(md, name)), kind) for name, kind in (
        ("premium_rate", T.PREMIUM_RATE), ("toll_free", T.TOLL_FREE), ("shared_cost", T.SHARED_COST),
        ("voip", T.VOIP), ("personal_number", T.PERSONAL_NUMBER), ("pager", T.PAGER), ("uan", T.UAN),
        ("voicemail", T.VOICEMAIL))]
    fixed, mobile, same = desc(md.fixed_line), desc(md.mobile), bool(md.same_mobile_and_fixed_line_pattern)

    def number_type(nsn: str) -> int:
        if not matches(general, nsn):
            return T.UNKNOWN
        for d, kind in special:
            if matches(d, nsn):
                return kind
        if matches(fixed, nsn):
            return T.FIXED_LINE_OR_MOBILE if same or matches(mobile, nsn) else T.FIXED_LINE
        if not same and matches(mobile, nsn):
            return T.MOBILE
        return T.UNKNOWN

    return number_type


@functools.cache
def _type_names() -> tuple[int, frozenset[int], dict[int, str]]:
    from phonenumbers import PhoneNumberType as T

    accepted = frozenset({T.MOBILE, T.FIXED_LINE_OR_MOBILE})
    names = {
        T.FIXED_LINE: "a landline (fixed-line) number",
        T.TOLL_FREE: "a toll-free number",
        T.PREMIUM_RATE: "a premium-rate number",
        T.SHARED_COST: "a shared-cost number",
        T.VOIP: "a VoIP number",
        T.PERSONAL_NUMBER: "a personal number",
        T.PAGER: "a pager number",
        T.UAN: "a universal access number",
        T.VOICEMAIL: "a voicemail number",
    }
    return T.UNKNOWN, accepted, names


def _compact_number(raw: str) -> tuple[str, str]:
    """(the number as given, stripped; its digits without separators, ``00`` read as ``+``)."""
    text = (raw or "").strip()
    if not text:
        raise RuleError("the number is empty")
    compact = text.translate(_SEPARATORS)
    return text, "+" + compact[2:] if compact.startswith("00") else compact


def normalise_msisdn(raw: str) -> str:
    """A Tanzanian mobile number in E.164 (``+255754123456``), or :class:`RuleError` saying why.

    Accepts ``0754…``, ``754…``, ``255754…``, ``+255754…`` and ``00255754…``
    (spaces, dashes, dots and brackets ignored). The number must be *valid*
    and of *mobile* type by libphonenumber's metadata for TZ (``phonenumbers``,
    imported on the first number checked), not merely of a possible length.
    """
    text, compact = _compact_number(raw)
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not (digits.isascii() and digits.isdigit()):
        raise RuleError(f"{text}: not a phone number (only digits, spaces, dashes and a leading + are allowed)")
    if international:
        if not digits.startswith(COUNTRY_CODE):
            raise RuleError(f"{text}: not a Tanzanian number (only +255 mobile numbers are accepted)")
        national = digits[3:]
    elif digits.startswith(COUNTRY_CODE) and len(digits) == NATIONAL_DIGITS + 3:
        national = digits[3:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    if len(national) < NATIONAL_DIGITS:
        raise RuleError(f"{text}: too short for a Tanzanian mobile number (expected 0 and 9 digits, e.g. 0754123456)")
    if len(national) > NATIONAL_DIGITS:
        raise RuleError(f"{text}: too long for a Tanzanian mobile number (expected 0 and 9 digits, e.g. 0754123456)")
    if national.startswith("0"):
        raise RuleError(f"{text}: not a valid Tanzanian mobile number")
    unknown, accepted, names = _type_names()
    # The type is UNKNOWN exactly when the number is not valid for TZ (that is
    # how phonenumbers' is_valid_number_for_region decides), so one call
    # answers both "valid?" and "mobile?".
    kind = _tz_number_type()(national)
    if kind == unknown:
        raise RuleError(f"{text}: not a valid Tanzanian mobile number")
    if kind not in accepted:
        raise RuleError(f"{text}: {names.get(kind, 'not a mobile number')}, not a mobile number")
    return "+" + COUNTRY_CODE + national


def normalise_phone(raw: str) -> str:
    """Any valid phone number a person can be reached on, in E.164, or :class:`RuleError`.

    For contact numbers (a site's contact, an institution's desk): a Tanzanian
    mobile or fixed line in any usual form (``0754…``, ``022 211 0000``,
    ``+255 754…``), or a foreign number written with its ``+`` country code. Valid
    by libphonenumber's metadata, not merely of a possible length. A number that
    must receive SMS takes :func:`normalise_msisdn` instead.
    """
    import phonenumbers

    text, compact = _compact_number(raw)
    if not (compact.lstrip("+").isascii() and compact.lstrip("+").isdigit()) or compact.count("+") > 1:
        raise RuleError(f"{text!r} is not a phone number (e.g. +255754123456 or 0754123456)")
    try:
        number = phonenumbers.parse(compact, "TZ")
    except phonenumbers.NumberParseException:
        raise RuleError(f"{text!r} is not a phone number (e.g. +255754123456 or 0754123456)") from None
    if not phonenumbers.is_valid_number(number):
        raise RuleError(f"{text!r} is not a phone number (e.g. +255754123456 or 0754123456)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_msisdn(raw: str) -> str | None:
    """:func:`normalise_msisdn` as a ``check_*`` rule: None, or the problem."""
    try:
        normalise_msisdn(raw)
    except RuleError as exc:
        return str(exc)
    return None


# -- durations and rates -----------------------------------------------------------------

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_MINUTES = {"s": 1 / 60, "m": 1, "h": 60, "d": 1440, "w": 10080}


def parse_duration(value: str | float | int, what: str = "duration") -> float:
    """``15m``, ``4h``, ``1h30m``, ``2d``, ``1w``, ``90s`` → minutes; a bare number is minutes.

    Not negative; anything else is a :class:`RuleError` naming ``what``.
    """
    if isinstance(value, (int, float)):
        minutes = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        try:
            minutes = float(text)
        except ValueError:
            pos = 0
            minutes = 0.0
            for m in _DURATION_RE.finditer(text):
                if m.start() != pos:
                    break
                minutes += float(m.group(1)) * _MINUTES[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise RuleError(f"{what} {value!r} must look like 15m, 4h, 1h30m or 2d") from None
    if minutes < 0:
        raise RuleError(f"{what} {value!r} must not be negative")
    return minutes


def format_duration(minutes: float | None) -> str:
    """15 → "15 min"; 90 → "1 h 30 min"; 2880 → "2 d"; None → ""."""
    if minutes is None:
        return ""
    if minutes < 1:
        return f"{round(minutes * 60)} s"
    total = round(minutes)
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{mins} min"] * bool(mins)
    return " ".join(parts[:2]) or "0 min"


_RATE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:bps|bit/s)?")
_RATE_UNITS = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def parse_rate(value: str, what: str = "rate", *, minimum: int | None = None, maximum: int | None = None) -> int:
    """"20M", "1G", "512k", "1.5G", "20Mbps" → bits per second.

    Units are SI (k = 1000) and always bits: "20MB/s" is refused, not guessed,
    because a byte rate read as a bit rate is off by eight.
    """
    from decimal import Decimal

    m = _RATE_RE.fullmatch(str(value).strip())
    if not m:
        raise RuleError(f"{what} {value!r} is not a rate in bits per second (e.g. 512k, 20M, 1G)")
    bps = Decimal(m.group(1)) * _RATE_UNITS[m.group(2).lower()]
    if bps != bps.to_integral_value():
        raise RuleError(f"{what} {value!r} is not a whole number of bits per second")
    rate = int(bps)
    if (minimum is not None and rate < minimum) or (maximum is not None and rate > maximum):
        low = format_rate(minimum) if minimum is not None else "0"
        high = format_rate(maximum) if maximum is not None else "any"
        raise RuleError(f"{what} {value!r} is outside {low}–{high}")
    return rate


def format_rate(bps: int) -> str:
    """20_000_000 → "20M", 19_500_000 → "19.5M": exact, so it parses back to the same rate."""
    from decimal import Decimal

    for unit, factor in (("G", 1_000_000_000), ("M", 1_000_000), ("k", 1_000)):
        if bps >= factor:
            return f"{Decimal(bps) / factor:f}".rstrip("0").rstrip(".") + unit if bps % factor else f"{bps // factor}{unit}"
    return str(bps)


# -- lifecycles ------------------------------------------------------------------------------

PREVIOUS = "(the state before)"
"""A :class:`Transition` target meaning "back to the state the resource had before" (e.g. undelete)."""


@dataclass(frozen=True)
class Transition:
    """One row of a lifecycle: ``action`` moves a resource in any of ``sources`` to ``target``."""

    action: str
    sources: tuple[str, ...]
    target: str
    summary: str = ""
    """What the move means for users, in a few words (shown by help and docs)."""


class IllegalTransition(RuleError):
    """An action that a resource's state does not allow; the route frame answers it as a 409."""

    def __init__(self, noun: str, action: str, state: str, sources: Sequence[str]):
        needs = f" ({action} needs {' or '.join(sources)})" if sources else ""
        article = "an" if noun[:1].lower() in "aeiou" else "a"
        super().__init__(f"cannot {action} {article} {noun} that is {state}{needs}")
        self.action, self.state, self.sources = action, state, tuple(sources)


class Lifecycle:
    """The states of one kind of resource and every legal move between them, as one table.

    ``Lifecycle("code", STATES, [Transition("reserve", ("available",), "reserved"), ...])``.
    An action may appear in several rows when where it leads depends on the
    state it starts from (their sources must not overlap). Anything not listed
    is illegal.
    """

    def __init__(self, noun: str, states: Sequence[str], transitions: Iterable[Transition]):
        self.noun = noun
        self.states = tuple(states)
        self.transitions = tuple(transitions)
        self._moves: dict[tuple[str, str], Transition] = {}
        for t in self.transitions:
            for state in (*t.sources, t.target):
                if state not in self.states and state != PREVIOUS:
                    raise ValueError(f"{noun} lifecycle: {t.action!r} names unknown state {state!r}")
            for source in t.sources:
                if (t.action, source) in self._moves:
                    raise ValueError(f"{noun} lifecycle: {t.action!r} from {source!r} is listed twice")
                self._moves[(t.action, source)] = t
        self.actions = tuple(dict.fromkeys(t.action for t in self.transitions))

    def sources(self, action: str) -> tuple[str, ...]:
        """The states ``action`` may start from, in the order of the states."""
        self._known(action)
        return tuple(s for s in self.states if (action, s) in self._moves)

    def allows(self, action: str, state: str) -> bool:
        return (action, state) in self._moves

    def next_state(self, action: str, state: str) -> str:
        """The state ``action`` leads to from ``state`` (maybe :data:`PREVIOUS`); :class:`IllegalTransition` if none."""
        self._known(action)
        move = self._moves.get((action, state))
        if move is None:
            raise IllegalTransition(self.noun, action, state, self.sources(action))
        return move.target

    def actions_from(self, state: str) -> tuple[str, ...]:
        """The actions allowed in ``state``, in declaration order."""
        return tuple(a for a in self.actions if (a, state) in self._moves)

    def _known(self, action: str) -> None:
        if action not in self.actions:
            raise ValueError(f"unknown {self.noun} action {action!r} (one of: {', '.join(self.actions)})")


_APOSTROPHES = dict.fromkeys(map(ord, "'\u02bc\u2019\u2018`\u00b4\u02bb"), None)


def name_tokens(text: str | None) -> list[str]:
    """A person's or a thing's name as the words it is searched by: lower case (casefolded),
    without diacritics or apostrophes, split at anything that is not a letter or digit.

    ``"Ngʼwanza Mrisho-Juma"`` → ``["ngwanza", "mrisho", "juma"]``. Store these
    beside a name (one row per token, indexed) and look a query's tokens up as
    prefixes: that is the one name matching of every ``--search`` and of
    ``egactl find`` (:func:`name_matches` says the same thing in Python).
    """
    import unicodedata

    if not text:
        return []
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    plain = plain.translate(_APOSTROPHES).casefold()
    return [t for t in re.split(r"[^\w]+|_", plain) if t]


def name_matches(query: str, name: str | None) -> bool:
    """Whether every word of ``query`` starts a different word of ``name``, in any order and case,
    with or without diacritics: ``"juma mr"``, ``"Mrisho Juma"`` and ``"mris"`` all match
    ``"Juma Mrisho"``. An empty query matches nothing."""
    wanted = sorted(name_tokens(query), key=len, reverse=True)
    words = name_tokens(name)
    if not wanted:
        return False
    for w in wanted:  # longest first, so a short prefix cannot take the word a longer one needs
        for i, word in enumerate(words):
            if word.startswith(w):
                del words[i]
                break
        else:
            return False
    return True
