"""Times people type (a TIME option) are read as people read the times egactl shows them:
East Africa Time unless they name a zone, in the form egactl prints or in RFC 3339
(egactl.plugin.rules.time_from_people, SDK 2.3)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egactl.plugin.rules import RuleError, time_for_people, time_from_people

UTC = dt.timezone.utc


@pytest.mark.parametrize("typed, moment", [
    ("2026-11-29 22:47 EAT", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),  # as egactl prints it
    ("2026-11-29 22:47 eat", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
    ("2026-11-29 22:47", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),  # no zone: East Africa Time
    ("2026-11-30T01:30:15", dt.datetime(2026, 11, 29, 22, 30, 15, tzinfo=UTC)),
    ("2026-11-30", dt.datetime(2026, 11, 29, 21, 0, tzinfo=UTC)),  # a date: its midnight in Dar es Salaam
    ("2026-11-29 19:47 UTC", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
    ("2026-11-29 19:47 GMT", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
    ("2026-11-29 22:47 Africa/Nairobi", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
    ("2026-11-29 19:47 Europe/London", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
    ("2026-11-29T19:47:00Z", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),  # RFC 3339, as the API writes
    ("2026-11-29T19:47:00.250z", dt.datetime(2026, 11, 29, 19, 47, 0, 250000, tzinfo=UTC)),
    ("2026-11-29T22:47:00+03:00", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
    ("2026-11-29 22:47 +03:00", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
    ("2026-11-29 19:47Z", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),  # a space, then Z: UTC, not a zone name
    ("2026-11-29 19:47 Z", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
    ("  2026-11-29 22:47 EAT  ", dt.datetime(2026, 11, 29, 19, 47, tzinfo=UTC)),
])
def test_the_forms_people_type(typed, moment):
    read = time_from_people(typed)
    assert read.tzinfo is not None and read == moment


@pytest.mark.parametrize("typed, problem", [
    ("", "--at is empty; give 2026-11-29 22:47 (East Africa Time), or with a zone: 2026-11-29 19:47 UTC, "
         "2026-11-29T19:47Z"),
    ("tomorrow", "--at 'tomorrow' is not a time; give 2026-11-29 22:47 (East Africa Time), or with a zone: "
                 "2026-11-29 19:47 UTC, 2026-11-29T19:47Z"),
    ("2026-13-01 10:00", "--at '2026-13-01 10:00' is not a time; give 2026-11-29 22:47 (East Africa Time), "
                         "or with a zone: 2026-11-29 19:47 UTC, 2026-11-29T19:47Z"),
    ("2026-11-29 22:47 Mars/Olympus", "--at '2026-11-29 22:47 Mars/Olympus': unknown time zone 'Mars/Olympus' "
                                      "(give EAT, UTC, an offset such as +03:00, or a name such as Africa/Nairobi)"),
    ("2026-11-29 22:47 ../../etc/passwd", "unknown time zone '../../etc/passwd'"),
    ("2026-11-29T22:47+03:00 EAT", "--at '2026-11-29T22:47+03:00 EAT' gives both an offset and a zone; give one"),
])
def test_what_is_not_a_time_is_one_line_saying_why(typed, problem):
    with pytest.raises(RuleError) as caught:
        time_from_people(typed, "--at")
    assert problem in str(caught.value) and "\n" not in str(caught.value)


@given(st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2999, 12, 31), timezones=st.just(UTC)))
def test_a_time_typed_back_as_it_was_shown_is_the_moment_shown(moment):
    shown = time_for_people(moment)
    assert time_from_people(shown) == moment.replace(second=0, microsecond=0)
    assert time_from_people(shown.removesuffix(" EAT")) == moment.replace(second=0, microsecond=0)
    assert time_from_people(moment.isoformat()) == moment
