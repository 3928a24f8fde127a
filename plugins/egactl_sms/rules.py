"""GovSMS rules, used by the commands (fail fast, before anything is sent) and
by the backend (authoritative): recipients, sender IDs and their approval,
messages, templates, group names, quiet hours (21:00-07:00 East Africa Time)
and the states of a message. Times for people and times people type (``--at``)
are the SDK's: ``time_for_people`` and ``time_from_people``.

Pure: no I/O. Every rule follows the SDK's convention (``egactl.plugin.rules``):
a ``check_*`` returns the problem or None, a normalising rule raises
:class:`RuleError`, the one exception type of rules. Nothing heavy is imported
at module level: ``phonenumbers`` is loaded on the first number checked.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from egactl.plugin.rules import Lifecycle, RuleError, Transition, eat_zone, enforce, normalise_msisdn
from egactl_sms.encoding import Analysis, analyse

# -- recipients ---------------------------------------------------------------------


def recipient(raw: str) -> str:
    """A recipient's number in E.164 (``+255754123456``), or :class:`RuleError`
    "invalid number <why>": the SDK's Tanzanian mobile number rule, worded for a send."""
    try:
        return normalise_msisdn(raw)
    except RuleError as exc:
        raise RuleError(f"invalid number {exc}") from None


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


def sender_id(name: str) -> str:
    """A sender ID as given, surrounding spaces aside, or :class:`RuleError` saying why not."""
    return enforce(check_sender_id, (name or "").strip())


def sender_key(name: str) -> str:
    """Sender IDs are unique regardless of case: "RITA" and "Rita" are one name."""
    return name.upper()


SENDER_STATES = ("pending", "approved", "rejected", "withdrawn")
SENDER = Lifecycle("sender ID", SENDER_STATES, [
    Transition("approve", ("pending", "approved"), "approved", "e-GA allows the institution to send from it"),
    Transition("reject", ("pending", "approved", "rejected"), "rejected",
               "refused by e-GA, or its approval revoked; final"),
    Transition("withdraw", ("pending", "approved"), "withdrawn",
               "the institution takes back its request or its sender ID; final"),
])
"""A sender ID's approval. Deciding what is already so changes nothing (approving an
approved one, rejecting a rejected one); a rejected or withdrawn sender ID is never
approved, and withdrawing is the institution's own act, done once."""


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
    """The template, or :class:`RuleError` naming what is wrong with it."""
    if not source or not source.strip():
        raise RuleError("the template is empty")
    parts: list[tuple[str, str | None]] = []
    literal: list[str] = []
    pos = 0
    for m in _TOKEN_RE.finditer(source):
        literal.append(source[pos:m.start()])
        token = m.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif token in ("{", "}"):
            raise RuleError(f"unbalanced {token!r} at character {m.start() + 1} of the template; "
                                f"write {token * 2} for a literal brace")
        else:
            name = (m.group(1) or "").strip()
            if not name:
                raise RuleError(f"empty placeholder {{}} at character {m.start() + 1} of the template")
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


def group_name(name: str) -> str:
    """A group name as given, surrounding spaces aside, or :class:`RuleError` saying why not."""
    return enforce(check_group_name, (name or "").strip())


# -- time: quiet hours in East Africa Time --------------------------------------------
# Times for people and times people type are the SDK's (time_for_people, time_from_people);
# the zone is the SDK's too (eat_zone): only the quiet hours' arithmetic is sms's own.

QUIET_START = dt.time(21, 0)
QUIET_END = dt.time(7, 0)
QUIET_HOURS = "21:00-07:00 EAT"


def in_eat(when: dt.datetime) -> dt.datetime:
    """``when`` on the clock of East Africa Time (the SDK's zone)."""
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


# -- message states -----------------------------------------------------------------

STATES = ("queued", "submitting", "submitted", "delivered", "failed", "rejected", "expired", "cancelled")
FINAL_STATES = ("delivered", "failed", "rejected", "expired", "cancelled")
HANDED_OVER = ("submitting", "submitted", "delivered")
"""States of a message that has been (or is being) handed to a gateway: a cancel leaves them alone."""
