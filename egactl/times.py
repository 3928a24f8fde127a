"""Times as people read them and as scripts read them: one format each.

- For people (tables, record views, notices): East Africa Time with the zone
  shown, to the minute: ``2026-11-29 22:47 EAT`` (Tanzania keeps UTC+3 all year).
- For scripts (json, jsonl, csv, tsv): RFC 3339 as the API wrote it, untouched.

A table cell whose value is an RFC 3339 timestamp is shown for people by the
renderer itself (``egactl.output.Column.text``), so no command formats times.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})")
"""A timestamp with its offset, as the API writes them (date and time, seconds optional)."""


def eat_zone() -> dt.tzinfo:
    """Africa/Dar_es_Salaam: UTC+3 all year (Tanzania keeps no daylight saving time)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Africa/Dar_es_Salaam")
    except Exception:  # no tz database on this machine: the offset is fixed anyway
        return dt.timezone(dt.timedelta(hours=3), "EAT")


def parse(text: str) -> dt.datetime | None:
    """An RFC 3339 timestamp (aware), or None when ``text`` is not one."""
    if not isinstance(text, str) or not RFC3339.fullmatch(text.strip()):
        return None
    try:
        return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def for_people(moment: Any) -> str:
    """``2026-11-29 22:47 EAT``; a naive datetime is taken as UTC; anything else as it is."""
    if isinstance(moment, str):
        parsed = parse(moment)
        if parsed is None:
            return moment
        moment = parsed
    if not isinstance(moment, dt.datetime):
        return "" if moment is None else str(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(eat_zone()).strftime("%Y-%m-%d %H:%M EAT")
