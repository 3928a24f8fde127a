"""What several nouns share: the MAILBOX argument, how a mailbox looks in a table
(mailboxes and quota), and the CSV header check (import and reconcile)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from egactl.plugin.cli import Column, InvalidInput, bulk, complete_from, time_for_people
from egactl_mail import client, rules

complete_mailbox = complete_from(client.MAILBOXES, "address", "display_name")
"""Mailbox addresses (with the person's name), from the API, for a MAILBOX argument."""
complete_list = complete_from(client.LISTS, "address", "name")
"""Distribution list addresses (with the list's name)."""
complete_domain = complete_from(client.DOMAINS, "domain", "institution")
"""Mail domains (with their institution)."""
complete_institution = complete_from(client.INSTITUTIONS, "code", "name")
"""Institution codes (with their names), for options that name one without being -i."""


def complete_state(incomplete: str) -> list[tuple[str, str]]:
    """The mailbox states, for --state."""
    return [(s, "") for s in rules.STATES if s.startswith(incomplete.lower())]


def complete_naming_rule(incomplete: str) -> list[tuple[str, str]]:
    return [(r, "") for r in rules.NAMING_RULES if r.startswith(incomplete.lower())]

Ref = Annotated[str, typer.Argument(metavar="MAILBOX", help="Address (or alias), or employee number.",
                                    autocompletion=complete_mailbox)]

MAILBOX_COLUMNS = [Column("address"), Column("display_name", "NAME"), Column("institution"),
                   Column("department"), Column("status"), Column("usage"),
                   Column("employee_number", "EMPLOYEE NO", wide=True), Column("title", wide=True),
                   Column("created_at", "CREATED", wide=True)]

MAILBOX_DETAIL = [
    Column("address"), Column("display_name", "NAME"), Column("status"), Column("login", "LOGIN"),
    Column("delivery", "INCOMING MAIL"), Column("institution"), Column("department"), Column("title"),
    Column("employee_number", "EMPLOYEE NO"), Column("usage"), Column("aliases"),
    Column("password", "PASSWORD"), Column("retain_until", "RETAINED UNTIL"),
    Column("created_at", "CREATED"), Column("updated_at", "UPDATED"),
]


def usage(record: dict[str, Any]) -> str:
    quota, used = record.get("quota_mb"), record.get("used_mb") or 0
    if not quota:
        return ""
    return f"{rules.format_size(used)} of {rules.format_size(quota)} ({record.get('usage_percent', 0):g}%)"


def password(record: dict[str, Any]) -> str:
    if not record.get("password_set_at"):
        return "never reset here"
    note = "; must be changed at first login" if record.get("must_change_password") else ""
    return f"temporary, set {time_for_people(record['password_set_at'])}{note}"


def for_people(record: dict[str, Any]) -> dict[str, Any]:
    """Add the derived fields a table shows (JSON and CSV get the API's fields only)."""
    return {**record, "usage": usage(record), "password": password(record)}


# CSV/TSV: the API's own fields, so a script's columns are stable and parseable.
MAILBOX_FIELDS = [Column(k) for k in ("address", "display_name", "employee_number", "institution", "department",
                                      "title", "status", "quota_mb", "used_mb", "created_at")]


def mailbox(ctx: Any, data: Any, *, detail: bool = False, empty: str | None = None) -> None:
    """Render one mailbox (detail) or a list of them in the chosen format."""
    if ctx.fmt == "table":
        if hasattr(data, "map"):  # a listing from the API: it keeps "showing 30 of N"
            data = data.map(for_people)
        else:
            data = [for_people(r) for r in data] if isinstance(data, list) else for_people(data)
        ctx.render(data, MAILBOX_DETAIL if detail else MAILBOX_COLUMNS, empty=empty)
    else:
        ctx.render(data, MAILBOX_FIELDS, empty=empty)


def csv_columns(path: Path, institution: str | None) -> list[str]:
    """The CSV's column names (read and checked by the core's one CSV reader); a file
    without an institution column needs ``--institution``."""
    columns = bulk.read_header(path) if path.is_file() else []
    if columns and "institution" not in columns and not institution:
        raise InvalidInput(f"{path}: no institution column and no --institution",
                           hint="add an institution column or pass --institution CODE")
    return columns
