"""``--watch``: the core loop every plugin's watching command gets (egactl.watch).

The commands that watch (sms report, govnet status, dr check) test it through
their own backends; here the loop itself: a pipe sees the first reading whole
and then one line per changed record, a terminal gets the view redrawn, the
watch ends when the view settles, and ``--watch`` takes an optional interval.
"""

from __future__ import annotations

import io

import pytest

from egactl.context import Context
from egactl.errors import InvalidInput
from egactl.output import Column, IOStreams
from egactl.watch import default_interval, seconds, watch


class Tty(io.StringIO):
    def isatty(self):
        return True


def readings(*states):
    it = iter(states)
    return lambda: next(it)


def context(out, fmt="table"):
    ctx = Context(io=IOStreams(out=out, err=io.StringIO()), sleep=lambda s: None, env={})
    ctx.output_flag = fmt
    return ctx


COLS = [Column("id"), Column("state")]


def test_piped_watch_prints_the_first_reading_then_one_line_per_change_until_settled():
    out = io.StringIO()
    last = watch(context(out), readings(
        [{"id": 1, "state": "queued"}, {"id": 2, "state": "queued"}],
        [{"id": 1, "state": "queued"}, {"id": 2, "state": "queued"}],  # nothing changed: nothing printed
        [{"id": 1, "state": "submitted"}, {"id": 2, "state": "queued"}],
        [{"id": 1, "state": "delivered"}, {"id": 2, "state": "failed"}],
    ), COLS, every=5, key=lambda r: r["id"], done=lambda rows: all(r["state"] in ("delivered", "failed") for r in rows))
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["ID", "STATE"]
    assert [l.split() for l in lines[1:]] == [["1", "queued"], ["2", "queued"], ["1", "submitted"],
                                             ["1", "delivered"], ["2", "failed"]]
    assert last[1]["state"] == "failed"


def test_piped_json_watch_writes_one_json_object_per_change():
    import json

    out = io.StringIO()
    watch(context(out, "json"), readings({"queued": 2}, {"queued": 0}), None, every=1,
          done=lambda r: r["queued"] == 0)
    first, *rest = out.getvalue().split("\n}\n")
    assert json.loads(first + "}") == {"queued": 2}
    assert [json.loads(l) for l in rest[0].splitlines()] == [{"queued": 0}]


def test_terminal_watch_redraws_under_a_header_naming_what_is_watched():
    out = Tty()
    watch(context(out), readings({"queued": 2}, {"queued": 0}), None, every=2, what="egactl sms report 7",
          done=lambda r: r["queued"] == 0)
    text = out.getvalue()
    assert text.count("\x1b[2J") == 2
    assert "Every 2s: egactl sms report 7" in text and "EAT" in text


def test_watch_interval_is_optional_and_at_least_a_second():
    assert default_interval(["--watch"]) == ["--watch", "5"]
    assert default_interval(["--watch", "-i", "RITA"]) == ["--watch", "5", "-i", "RITA"]
    assert default_interval(["--watch", "2", "7"]) == ["--watch", "2", "7"]
    assert default_interval(["--", "--watch"]) == ["--", "--watch"]
    assert seconds(None) is None and seconds(2) == 2.0
    with pytest.raises(InvalidInput):
        seconds(0.1)
