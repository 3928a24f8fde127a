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
``egactl.plugin.server.invalid``.
"""

from __future__ import annotations

from typing import Any, Callable

from egactl.rules import KINDS, check_email, check_institution_code, check_name, normalise_kind

__all__ = ["KINDS", "RuleError", "check_email", "check_institution_code", "check_name", "check_reference",
           "enforce", "normalise_kind", "split_reference"]


class RuleError(ValueError):
    """A value breaks a rule; the message is the one line a user reads."""


def enforce(check: Callable[..., str | None], value: Any, *args: Any, **kwargs: Any) -> Any:
    """``value`` if ``check(value, ...)`` finds no problem, else :class:`RuleError` with the problem."""
    problem = check(value, *args, **kwargs)
    if problem:
        raise RuleError(problem)
    return value


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
