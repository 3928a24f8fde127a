"""The rules of the mail service, shared by the commands (fail fast, before
anything is sent) and the server (authoritative): pure, no I/O, no heavy imports.

Two kinds, after the convention of ``egactl.plugin.rules``: ``check_*``
returning the problem or None, and normalising rules (``parse_*``,
``local_part_for``) returning the value as stored or raising :class:`RuleError`. The commands
apply them with ``egactl.plugin.cli.enforce``, request bodies with
``egactl.plugin.server.rule_validator``. Last, the mailbox's lifecycle
(:data:`MAILBOX`), one table for the server, the commands and the docs.

Address generation, the documented rule (docs/mail.md repeats it for users):

1. Apostrophes of every kind are removed (``O'Brien`` → ``obrien``, Swahili
   ``Ng'wanakilala`` → ``ngwanakilala``): they are not letters of the name,
   and ``'`` in an address breaks shell scripts and some mail clients.
2. Letters are transliterated to ASCII: first an explicit map for letters that
   Unicode does not decompose (``ß`` → ``ss``, ``ø`` → ``o``, ``ł`` → ``l``,
   ``ŋ`` → ``ng`` …), then NFKD decomposition with the combining marks dropped
   (``é`` → ``e``, ``ü`` → ``u``, ``ç`` → ``c``). A letter that is still not
   ASCII after that (Arabic, Cyrillic…) is refused rather than silently
   dropped — a dropped letter makes a wrong address that looks right; the
   caller passes ``--address`` instead.
3. Inside a name, spaces and hyphens become one hyphen
   (``Mwanga-Kilima`` and ``Mwanga Kilima`` → ``mwanga-kilima``); dots, digits
   and other punctuation are removed; everything is lower-case.
4. Several given names: the first is used (``Juma Hassan`` → ``juma``),
   unless a preferred name (the name the person goes by) is given.
5. The institution's naming rule puts the parts together: ``given.family``
   (default), ``g.family`` (initial) or ``family.given``.
6. A taken local part gets the smallest free numeric suffix from 2 up
   (``juma.mrisho2``, ``juma.mrisho3`` …). The backend chooses it inside the
   creating transaction, so concurrent creates never get one address twice.

Because generated names carry no digits, a local part splits unambiguously
into a *stem* and a numeric suffix (``juma.mrisho12`` → ``juma.mrisho``); the
backend indexes the stem to find every suffix of a name in one lookup.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from egactl.plugin.rules import (PREVIOUS, Lifecycle, RuleError, Transition, check_institution_code, check_name,
                                 enforce)

# -- names and transliteration ---------------------------------------------------------

APOSTROPHES = "'\u2019\u2018\u02bc\u02bb\u0060\u00b4\u02b9\u2032\u02be\u02bf"

# Letters NFKD leaves alone (they are letters of their own, not a base letter
# plus a mark). Lower-case only: names are lower-cased before the lookup.
TRANSLITERATION = {
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l",
    "ı": "i", "ŋ": "ng", "ħ": "h", "ŧ": "t", "ĸ": "k", "ſ": "s", "ƒ": "f", "ɗ": "d",
    "ɓ": "b", "ƙ": "k", "ʼ": "", "ə": "e", "ɛ": "e", "ɔ": "o",
}

NAMING_RULES = ("given.family", "g.family", "family.given")
DEFAULT_NAMING_RULE = "given.family"
MAX_LOCAL_PART = 64
# Room left for a numeric suffix when a generated base is shortened.
MAX_BASE = MAX_LOCAL_PART - 4


class UnusableName(RuleError):
    """A name from which no address can be made; the message says why."""


@functools.lru_cache(maxsize=8192)
def transliterate(text: str) -> str:
    """Lower-case ASCII for a name: apostrophes removed, letters mapped and decomposed.

    Raises ``UnusableName`` for a letter that has no safe ASCII form.
    """
    text = text.lower()
    for a in APOSTROPHES:
        text = text.replace(a, "")
    text = "".join(TRANSLITERATION.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFKD", text)
    out = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        if ord(ch) < 128:
            out.append(ch)
        elif ch.isalpha():
            raise UnusableName(f"{ch!r} has no safe ASCII form")
        # other non-ASCII (symbols, odd spaces) fall through to the slug rules
        elif ch.isspace():
            out.append(" ")
    return "".join(out)


def name_slug(name: str) -> str:
    """One name as it appears in an address: ``Mwanga-Kilima`` → ``mwanga-kilima``."""
    ascii_ = transliterate(name)
    ascii_ = re.sub(r"[\s\-_]+", "-", ascii_)
    ascii_ = re.sub(r"[^a-z-]", "", ascii_)
    ascii_ = re.sub(r"-{2,}", "-", ascii_).strip("-")
    return ascii_


def first_name(given: str) -> str:
    """The first of several given names (``Juma Hassan`` → ``Juma``)."""
    parts = given.split()
    return parts[0] if parts else ""


def local_part_for(given_name: str, family_name: str, rule: str = DEFAULT_NAMING_RULE,
                   preferred_name: str | None = None) -> str:
    """The address base (before any suffix) for a person under a naming rule.

    Raises ``UnusableName`` when a name gives nothing usable.
    """
    if rule not in NAMING_RULES:
        raise UnusableName(f"unknown naming rule {rule!r} (one of {', '.join(NAMING_RULES)})")
    try:
        given = name_slug(preferred_name if preferred_name and preferred_name.strip() else first_name(given_name))
        family = name_slug(family_name)
    except UnusableName as exc:
        raise UnusableName(f"cannot make an address from the name: {exc}") from None
    if not given:
        raise UnusableName(f"cannot make an address from given name {given_name!r}")
    if not family:
        raise UnusableName(f"cannot make an address from family name {family_name!r}")
    if rule == "g.family":
        first, second = given[0], family
    elif rule == "family.given":
        first, second = family, given
    else:
        first, second = given, family
    base = f"{first}.{second}"
    if len(base) > MAX_BASE:
        base = base[:MAX_BASE].rstrip(".-")
    return base


def with_suffix(base: str, n: int) -> str:
    """The n-th candidate for a base: 1 → ``base``, 2 → ``base2``…"""
    return base if n == 1 else f"{base}{n}"


def stem(local_part: str) -> str:
    """A local part without its numeric suffix: ``juma.mrisho12`` → ``juma.mrisho``."""
    return local_part.rstrip("0123456789") or local_part


# -- addresses ------------------------------------------------------------------------

LOCAL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Outside addresses (list members) may use the wider dot-atom of RFC 5322.
EXTERNAL_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def normalise_address(address: str) -> str:
    return address.strip().lower()


def check_domain(domain: str) -> str | None:
    """None if ``domain`` is a valid mail domain (lower-case), else why not."""
    if not DOMAIN_RE.match(domain):
        return f"{domain!r} is not a valid mail domain (e.g. rita.go.tz)"
    return None


def check_local_part(local: str) -> str | None:
    if len(local) > MAX_LOCAL_PART:
        return f"the part before @ is longer than {MAX_LOCAL_PART} characters"
    if not LOCAL_RE.match(local) or ".." in local:
        return (f"{local!r} is not a valid mailbox name (lower-case letters, digits, '.', '-', '_'; "
                "starting and ending with a letter or digit)")
    return None


def check_address(address: str) -> str | None:
    """A government address we manage (mailbox, alias, list): strict syntax."""
    if address.count("@") != 1:
        return f"{address!r} is not an e-mail address"
    local, domain = address.split("@")
    return check_local_part(local) or check_domain(domain)


def check_external_address(address: str) -> str | None:
    """An outside address (a list member): RFC 5322 dot-atom, domain checked."""
    if len(address) > 254 or address.count("@") != 1:
        return f"{address!r} is not an e-mail address"
    local, domain = address.rsplit("@", 1)
    if not local or len(local) > MAX_LOCAL_PART or not EXTERNAL_LOCAL_RE.match(local):
        return f"{address!r} is not an e-mail address"
    return check_domain(domain.lower())


def parse_address(value: str) -> str:
    """A government address we manage, normalised (``Juma.Mrisho@RITA.go.tz`` → lower-case), or :class:`RuleError`."""
    return enforce(check_address, normalise_address(value))


def parse_domain(value: str) -> str:
    """A mail domain, normalised to lower case, or :class:`RuleError`."""
    return enforce(check_domain, value.strip().lower())


def parse_member(value: str) -> str:
    """A list member as stored: the local part as given, the domain lower-case; :class:`RuleError` if malformed."""
    local, _, domain = value.strip().rpartition("@")
    return enforce(check_external_address, f"{local}@{domain.lower()}")


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.partition("@")
    return local, domain


# -- employee numbers ------------------------------------------------------------------

# No '/': an employee number is also a URL path segment (``/mailboxes/<number>``).
EMPLOYEE_RE = re.compile(r"^[A-Z0-9](?:[A-Z0-9-]{1,18}[A-Z0-9])$")


def normalise_employee_number(value: str) -> str:
    """HCMIS check numbers: spaces removed, upper-case (``ab 123`` → ``AB123``)."""
    return re.sub(r"\s+", "", value).upper()


def check_employee_number(value: str) -> str | None:
    if not EMPLOYEE_RE.match(value):
        return (f"employee number {value!r} must be 3-20 letters or digits "
                "('-' allowed inside), as in HCMIS")
    return None


def parse_employee_number(value: str) -> str:
    """An employee number, normalised (``ab 123`` → ``AB123``), or :class:`RuleError`."""
    return enforce(check_employee_number, normalise_employee_number(value))


def mask_employee_number(value: str | None) -> str | None:
    """For the help desk: ``111234567`` → ``******567`` (enough to confirm with the caller)."""
    if not value:
        return value
    return "*" * max(0, len(value) - 3) + value[-3:]


# -- quotas -----------------------------------------------------------------------------

MIN_QUOTA_MB = 100
MAX_QUOTA_MB = 100 * 1024
QUOTA_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|mb|mib|g|gb|gib|t|tb|tib)?\s*$", re.IGNORECASE)
UNIT_MB = {"m": 1, "g": 1024, "t": 1024 * 1024}


def parse_quota(text: str) -> int:
    """``2G``, ``2 GB``, ``512M``, ``1536`` (MB) → megabytes. Raises :class:`RuleError`."""
    m = QUOTA_RE.match(text)
    if not m:
        raise RuleError(f"quota {text!r} is not a size (e.g. 2G, 512M, or megabytes)")
    unit = (m.group(2) or "m")[0].lower()
    mb = float(m.group(1)) * UNIT_MB[unit]
    if mb != int(mb):
        raise RuleError(f"quota {text!r} is not a whole number of megabytes")
    return enforce(check_quota, int(mb))


def check_quota(mb: int) -> str | None:
    if mb < MIN_QUOTA_MB or mb > MAX_QUOTA_MB:
        return f"quota must be between {format_size(MIN_QUOTA_MB)} and {format_size(MAX_QUOTA_MB)}"
    return None


def format_size(mb: int | None) -> str:
    if mb is None:
        return ""
    if mb >= 1024 and mb % 1024 == 0:
        return f"{mb // 1024} GB"
    if mb >= 1024:
        return f"{mb / 1024:.1f} GB"
    return f"{mb} MB"


# -- person fields -----------------------------------------------------------------------

MAX_NAME = 100


def check_person_name(value: str, what: str) -> str | None:
    if not value or not value.strip():
        return f"{what} is empty"
    if len(value) > MAX_NAME:
        return f"{what} is longer than {MAX_NAME} characters"
    return check_name(value.strip(), what)


def _person_name(what: str):
    def parse_person_name(value: str) -> str:
        """The name with its spaces collapsed, or :class:`RuleError`."""
        return " ".join(enforce(check_person_name, value, what).split())
    return parse_person_name


parse_given_name = _person_name("given name")
parse_family_name = _person_name("family name")


def check_preferred_name(value: str) -> str | None:
    return check_name(value, "preferred name")


def check_list_name(value: str) -> str | None:
    return check_name(value.strip(), "list name")


MAX_TEXT = 100


def parse_text(value: str | None) -> str | None:
    """A free-text detail (title, department): spaces collapsed, blank as None; :class:`RuleError` if too long."""
    if value is None:
        return None
    text = " ".join(value.split())
    if len(text) > MAX_TEXT:
        raise RuleError(f"longer than {MAX_TEXT} characters")
    return text or None


def parse_institution(value: str) -> str:
    """An institution code, upper-cased, or :class:`RuleError`."""
    return enforce(check_institution_code, value.strip().upper())


# -- the mailbox lifecycle ------------------------------------------------------------------
#
#     create ─▶ active ──suspend──▶ suspended
#                  ▲  ◀──resume────     │
#                  │                    │
#               delete               delete
#                  ▼                    ▼
#                 deleted (address retained) ──undelete──▶ the state it had before
#                    │
#                  purge (only after the retention period)
#                    ▼
#                  purged (address released, personal data erased)
#
# What each state means for the person and for mail sent to them:
#
#     state      login  incoming mail     address
#     active     yes    delivered         in use
#     suspended  no     still delivered   in use
#     deleted    no     bounced           retained: nobody else may take it
#     purged     no     bounced           released: may be given out again
#
# Any other move is illegal: ``MAILBOX.next_state`` raises ``IllegalTransition``,
# which the server answers 409 (exit 5).

ACTIVE, SUSPENDED, DELETED, PURGED = "active", "suspended", "deleted", "purged"
STATES = (ACTIVE, SUSPENDED, DELETED, PURGED)
EXISTING = (ACTIVE, SUSPENDED)
"""The states in which a mailbox is someone's: its details, quota, password and aliases may change."""

# What login and delivery look like in each state (shown by `mail show`).
LOGIN = {ACTIVE: True, SUSPENDED: False, DELETED: False, PURGED: False}
DELIVERY = {ACTIVE: "delivered", SUSPENDED: "delivered", DELETED: "bounced", PURGED: "bounced"}


def _changes(action: str, summary: str) -> list[Transition]:
    """A change that is not a move: allowed while the mailbox exists, and the state stays."""
    return [Transition(action, (state,), state, summary) for state in EXISTING]


MAILBOX = Lifecycle("mailbox", STATES, [
    Transition("suspend", (ACTIVE,), SUSPENDED, "login off; mail still delivered"),
    Transition("resume", (SUSPENDED,), ACTIVE, "login on again"),
    Transition("delete", EXISTING, DELETED, "login off, mail bounced, address retained for mail.retention_days"),
    Transition("undelete", (DELETED,), PREVIOUS, "back as it was, within the retention period"),
    Transition("purge", (DELETED,), PURGED, "address released and personal data erased, once the retention period "
                                            "has ended (the retention worker also does this)"),
    *_changes("update", "names, title or department corrected"),
    *_changes("resize", "a new mailbox size (quota)"),
    *_changes("reset-password", "a one-time temporary password"),
    *_changes("alias", "an alias added or removed"),
    *_changes("move", "a transfer to another institution"),
])
"""Every legal step of a mailbox; ``MAILBOX.next_state(action, status)`` or ``IllegalTransition``."""

MOVES = ("suspend", "resume", "delete", "undelete", "purge")
"""The actions that change the state (the rest of ``MAILBOX.actions`` keep it)."""


def describe(action: str) -> str:
    """One move for people, from the table: ``"suspended → active: login on again."``."""
    rows = [t for t in MAILBOX.transitions if t.action == action]
    target = rows[0].target
    sources = " or ".join(MAILBOX.sources(action))
    return f"{sources} → {'the state before delete' if target == PREVIOUS else target}: {rows[0].summary}."


def returning_to(previous: str | None) -> str:
    """Where undelete (``PREVIOUS``) leads: the state recorded at delete, else active."""
    return previous if previous in EXISTING else ACTIVE
