"""Times as people read them and as scripts read them: one format each.

- For people (tables, record views, notices): East Africa Time with the zone
  shown, to the minute: ``2026-11-29 22:47 EAT`` (Tanzania keeps UTC+3 all year).
- For scripts (json, jsonl, csv, tsv): RFC 3339 as the API wrote it, untouched.
- From people (a TIME option): what they read back, ``2026-11-29 22:47 EAT``; a time
  without a zone is East Africa Time, as every time egactl shows them is
  (:func:`from_people`).

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


ZONE_WORDS: dict[str, dt.tzinfo | None] = {"EAT": None, "UTC": dt.timezone.utc, "GMT": dt.timezone.utc, "Z": dt.timezone.utc}
"""Zone words read after a time (any case); None: East Africa Time (``eat_zone()``)."""

PEOPLE_FORMS = "2026-11-29 22:47 (East Africa Time), or with a zone: 2026-11-29 19:47 UTC, 2026-11-29T19:47Z"
"""The forms :func:`from_people` reads, as an error message names them."""


def from_people(text: str, what: str = "time") -> dt.datetime:
    """A time a person typed, as an aware datetime; ``ValueError`` with the one line to show if not one.

    - the form egactl shows: ``2026-11-29 22:47 EAT`` (seconds allowed, ``T`` or a space);
    - without a zone, East Africa Time: ``2026-11-29 22:47``; a date alone is its midnight
      there: ``2026-11-29``;
    - another zone after a space: ``UTC``, ``GMT``, ``EAT`` (any case) or a tz database name
      (``Africa/Nairobi``);
    - RFC 3339 with an offset: ``2026-11-29T19:47:00Z``, ``2026-11-29 22:47+03:00``.

    ``what`` names the value in the messages (``"--at"``, ``"time"``). Whether the time is
    in the past or the future is for the caller (the backend's clock is authoritative).
    """
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise ValueError(f"{what} is empty; give {PEOPLE_FORMS}")
    zone: dt.tzinfo | None = None
    if raw[-1:] in ("Z", "z") and raw[-2:-1].isdigit():  # "2026-12-01 06:00Z": UTC, not a zone named "06:00Z"
        raw = raw[:-1] + "+00:00"
    head, _, tail = raw.rpartition(" ")
    if head.strip() and any(ch.isalpha() for ch in tail):
        if not _is_time(head.strip()):  # "last tuesday": not a time at all, whatever the last word is
            raise ValueError(f"{what} {text!r} is not a time; give {PEOPLE_FORMS}")
        zone = _zone(tail, what, text)
        raw = head.strip()
    elif head.strip() and re.fullmatch(r"[+-]\d{2}:?\d{2}", tail):  # "22:47 +03:00": the offset, spaced
        raw = head.strip() + tail
    if raw[-1:] in ("Z", "z"):
        raw = raw[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a time; give {PEOPLE_FORMS}") from None
    if when.tzinfo is not None:
        if zone is not None:
            raise ValueError(f"{what} {text!r} gives both an offset and a zone; give one")
        return when
    return when.replace(tzinfo=zone or eat_zone())


def _is_time(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _zone(word: str, what: str, text: str) -> dt.tzinfo:
    if word.upper() in ZONE_WORDS:
        return ZONE_WORDS[word.upper()] or eat_zone()
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(word)
    except Exception:
        raise ValueError(f"{what} {text!r}: unknown time zone {word!r} (give EAT, UTC, an offset such as "
                         f"+03:00, or a name such as Africa/Nairobi)") from None
