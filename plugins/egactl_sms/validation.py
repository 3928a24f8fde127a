"""GovSMS rules, used by the commands (fail fast, before anything is sent) and
by the backend (authoritative): phone numbers, sender IDs, messages, templates,
group names, and time (East Africa Time, quiet hours, scheduling).

Nothing heavy is imported at module level: ``phonenumbers`` is loaded on the
first number checked.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from egactl_sms.encoding import Analysis, analyse

# -- phone numbers ------------------------------------------------------------------


class InvalidNumber(ValueError):
    """The number is not a Tanzanian mobile number; the message says why."""


COUNTRY_CODE = "255"
NATIONAL_DIGITS = 9
_SEPARATORS = str.maketrans("", "", " -.()/\t\u00a0")


@functools.cache
def _tz_number_type():
    """``number_type`` for Tanzanian national numbers, with phonenumbers' metadata
    compiled once.

    ``phonenumbers.number_type()`` re-resolves the region, the metadata and
    every pattern on each call (about 20 µs); a campaign checks a million
    numbers, twice. This makes the same decision as phonenumbers'
    ``_number_type_helper`` — the general description first, then each special
    type in phonenumbers' order, then fixed line and mobile — over the same
    metadata for TZ, with the patterns compiled once (about 2 µs). A property
    test checks that it agrees with ``phonenumbers.number_type``.
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
def _type_names():
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


def normalize_msisdn(raw: str) -> str:
    """A Tanzanian mobile number in E.164 (``+255754123456``), or ``InvalidNumber``.

    Accepts ``0754…``, ``754…``, ``255754…``, ``+255754…`` and ``00255754…``
    (spaces, dashes, dots and brackets ignored). The number must be *valid*
    and of *mobile* type by libphonenumber's metadata for TZ, not merely of a
    possible length.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber("the number is empty")
    compact = text.translate(_SEPARATORS)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidNumber(f"{text}: not a phone number (only digits, spaces, dashes and a leading + are allowed)")
    if international:
        if not digits.startswith(COUNTRY_CODE):
            raise InvalidNumber(f"{text}: not a Tanzanian number (only +255 mobile numbers can receive GovSMS)")
        national = digits[3:]
    elif digits.startswith(COUNTRY_CODE) and len(digits) == NATIONAL_DIGITS + 3:
        national = digits[3:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    if len(national) < NATIONAL_DIGITS:
        raise InvalidNumber(f"{text}: too short for a Tanzanian mobile number (expected 0 and 9 digits, e.g. 0754123456)")
    if len(national) > NATIONAL_DIGITS:
        raise InvalidNumber(f"{text}: too long for a Tanzanian mobile number (expected 0 and 9 digits, e.g. 0754123456)")
    if national.startswith("0"):
        raise InvalidNumber(f"{text}: not a valid Tanzanian mobile number")
    unknown, accepted, names = _type_names()
    # The type is UNKNOWN exactly when the number is not valid for TZ (that is
    # how phonenumbers' is_valid_number_for_region decides), so one call
    # answers both "valid?" and "mobile?".
    kind = _tz_number_type()(national)
    if kind == unknown:
        raise InvalidNumber(f"{text}: not a valid Tanzanian mobile number")
    if kind not in accepted:
        raise InvalidNumber(f"{text}: {names.get(kind, 'not a mobile number')}, not a mobile number")
    return "+" + COUNTRY_CODE + national


def msdg_msisdn(e164: str) -> str:
    """``+255754123456`` → ``255754123456``: the form the MSDG gateway takes."""
    return e164.lstrip("+")


def split_numbers(values: list[str] | tuple[str, ...]) -> list[str]:
    """``--to a,b --to c`` → [a, b, c]."""
    out: list[str] = []
    for value in values:
        out += [v.strip() for v in value.split(",") if v.strip()]
    return out


# -- sender IDs ---------------------------------------------------------------------

SENDER_MAX = 11
_SENDER_RE = re.compile(r"^[A-Za-z0-9 ]+$")


def check_sender_id(name: str) -> str | None:
    """None if ``name`` may be a sender ID, else why not."""
    if not name or not name.strip():
        return "the sender ID is empty"
    if name != name.strip():
        return f"sender ID {name!r} must not start or end with a space"
    if len(name) > SENDER_MAX:
        return f"sender ID {name!r} is {len(name)} characters long; at most {SENDER_MAX} are allowed"
    if not _SENDER_RE.match(name):
        return f"sender ID {name!r} may contain only letters, digits and spaces"
    return None


def sender_key(name: str) -> str:
    """Sender IDs are unique regardless of case: "RITA" and "Rita" are one name."""
    return name.upper()


# -- messages -----------------------------------------------------------------------

MAX_SEGMENTS = 10
MAX_QUICK_RECIPIENTS = 1000
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")


def measure(text: str) -> tuple[str | None, Analysis | None]:
    """(why ``text`` cannot be sent, or None; its encoding and segments when it can)."""
    if not text or not text.strip():
        return "the message is empty", None
    if bad_char := _CONTROL.search(text):
        bad = bad_char.group(0)
        return f"the message contains a control character (U+{ord(bad):04X}); only line breaks are allowed", None
    a = analyse(text)
    if a.segments > MAX_SEGMENTS:
        return (f"the message is too long: {a.segments} segments of {a.encoding} (at most {MAX_SEGMENTS}, "
                f"about {MAX_SEGMENTS * 153 if a.encoding == 'GSM-7' else MAX_SEGMENTS * 67} characters)"), a
    return None, a


def check_message(text: str) -> str | None:
    """None if ``text`` can be sent as one SMS message (of up to 10 segments), else why not."""
    return measure(text)[0]


# -- templates ----------------------------------------------------------------------


class TemplateError(ValueError):
    pass


_TOKEN_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True)
class Template:
    """``"Habari {name}, …"``: CSV columns in braces; ``{{`` and ``}}`` are literal braces.

    Deliberately not ``str.format``: the backend renders templates it receives,
    and format's attribute and index lookups have no place there.
    """

    source: str
    parts: tuple[tuple[str, str | None], ...]

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(f for _, f in self.parts if f is not None))

    def render(self, values: dict[str, str]) -> str:
        return "".join(lit if f is None else values.get(f, "") for lit, f in self.parts)


@functools.lru_cache(maxsize=64)
def compile_template(source: str) -> Template:
    if not source or not source.strip():
        raise TemplateError("the template is empty")
    parts: list[tuple[str, str | None]] = []
    literal: list[str] = []
    pos = 0
    for m in _TOKEN_RE.finditer(source):
        literal.append(source[pos:m.start()])
        token = m.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif token in ("{", "}"):
            raise TemplateError(f"unbalanced {token!r} at character {m.start() + 1} of the template; "
                                f"write {token * 2} for a literal brace")
        else:
            name = (m.group(1) or "").strip()
            if not name:
                raise TemplateError(f"empty placeholder {{}} at character {m.start() + 1} of the template")
            parts.append(("".join(literal), None))
            literal = []
            parts.append(("", name))
        pos = m.end()
    literal.append(source[pos:])
    parts.append(("".join(literal), None))
    return Template(source, tuple(p for p in parts if p[1] is not None or p[0]))


# -- groups -------------------------------------------------------------------------

_GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def check_group_name(name: str) -> str | None:
    if not name or not _GROUP_RE.match(name) or name != name.strip():
        return (f"group name {name!r} must be 1-64 letters, digits, spaces, '.', '_' or '-', "
                f"starting with a letter or digit")
    return None


# -- time: East Africa Time, quiet hours, scheduling --------------------------------


@functools.cache
def eat_zone() -> dt.tzinfo:
    """Africa/Dar_es_Salaam: UTC+3 all year (Tanzania keeps no daylight saving time)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Africa/Dar_es_Salaam")
    except Exception:  # no tz database on this machine: the offset is fixed anyway
        return dt.timezone(dt.timedelta(hours=3), "EAT")


QUIET_START = dt.time(21, 0)
QUIET_END = dt.time(7, 0)
QUIET_HOURS = "21:00-07:00 EAT"


def in_eat(when: dt.datetime) -> dt.datetime:
    return when.astimezone(eat_zone())


def is_quiet(when: dt.datetime) -> bool:
    """Between 21:00 and 07:00 East Africa Time."""
    t = in_eat(when).time()
    return t >= QUIET_START or t < QUIET_END


def after_quiet_hours(when: dt.datetime) -> dt.datetime:
    """``when`` itself outside quiet hours, else the next 07:00 EAT (in UTC)."""
    if not is_quiet(when):
        return when.astimezone(dt.timezone.utc)
    local = in_eat(when)
    day = local.date() if local.time() < QUIET_END else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, QUIET_END, tzinfo=eat_zone()).astimezone(dt.timezone.utc)


def format_eat(when: dt.datetime | str | None) -> str:
    """'2026-11-23 07:00 EAT' for people."""
    if when is None or when == "":
        return ""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when)
        except ValueError:
            return when
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return in_eat(when).strftime("%Y-%m-%d %H:%M EAT")


def msdg_datetime(when: dt.datetime) -> str:
    """'YYYY-MM-DD HH:MM:SS' in East Africa Time, as the MSDG gateway expects."""
    return in_eat(when).strftime("%Y-%m-%d %H:%M:%S")


_ZONE_ALIASES = {"EAT": None, "UTC": dt.timezone.utc, "Z": dt.timezone.utc, "GMT": dt.timezone.utc}


def parse_at(value: str) -> dt.datetime:
    """``--at``: "2026-12-01 09:00" (East Africa Time), or with a zone:
    "2026-12-01 09:00 UTC", "2026-12-01 09:00 Europe/London", "2026-12-01T06:00Z",
    "2026-12-01 09:00+03:00". Returns an aware datetime; ``ValueError`` says why not.
    Whether it is in the past is the backend's call (its clock is authoritative).
    """
    text = (value or "").strip()
    if not text:
        raise ValueError("--at is empty")
    zone: dt.tzinfo | None = None
    head, _, tail = text.rpartition(" ")
    if head and tail and any(ch.isalpha() for ch in tail):
        if tail.upper() in _ZONE_ALIASES:
            zone = _ZONE_ALIASES[tail.upper()] or eat_zone()
        else:
            try:
                from zoneinfo import ZoneInfo

                zone = ZoneInfo(tail)
            except Exception:
                raise ValueError(f"unknown time zone {tail!r} in --at (use e.g. EAT, UTC or Africa/Nairobi)") from None
        text = head.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {value!r} is not a time; use \"YYYY-MM-DD HH:MM\" (East Africa Time), "
                         f"optionally followed by a zone such as UTC") from None
    if parsed.tzinfo is not None:
        if zone is not None:
            raise ValueError(f"--at {value!r} gives both an offset and a zone; give one")
        return parsed
    return parsed.replace(tzinfo=zone or eat_zone())


# -- message states -----------------------------------------------------------------

STATES = ("queued", "submitting", "submitted", "delivered", "failed", "rejected", "expired", "cancelled")
FINAL_STATES = ("delivered", "failed", "rejected", "expired", "cancelled")
HANDED_OVER = ("submitting", "submitted", "delivered")
"""States of a message that has been (or is being) handed to a gateway: a cancel leaves them alone."""
