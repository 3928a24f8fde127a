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
