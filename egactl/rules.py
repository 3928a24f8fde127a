"""Validation rules of the core's own resources, shared by the CLI (fail fast,
before anything is sent) and the backend (authoritative). No heavy imports."""

from __future__ import annotations

import re

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KINDS = ("ministry", "agency", "LGA", "other")


def check_institution_code(code: str) -> str | None:
    """None if valid, else why not."""
    if not CODE_RE.match(code):
        return f"institution code {code!r} must be 2-32 letters, digits or '-' (e.g. RITA, KINONDONI-MC)"
    return None


def check_email(value: str) -> str | None:
    if not EMAIL_RE.match(value):
        return f"{value!r} is not an e-mail address"
    return None


def normalise_kind(value: str) -> str | None:
    return next((k for k in KINDS if k.lower() == value.strip().lower()), None)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP, "CSV injection")."""


def check_name(value: str, what: str = "name") -> str | None:
    """The shared rule for a name people give (an institution's, a person's, a list's, a contact's).

    None if acceptable, else why not. A name that begins with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return is refused: in a CSV export a
    spreadsheet would run it as a formula. So is a control character anywhere
    (a NUL, a line break): a name is one line of text. Length and emptiness are
    the caller's rules.
    """
    if value.startswith(FORMULA_START):
        return f"{what} {value!r} must not begin with {value[0]!r} (a spreadsheet would read it as a formula)"
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in value):
        return f"{what} {value!r} contains a control character"
    return None
