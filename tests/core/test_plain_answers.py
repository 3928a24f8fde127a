"""Which answers of a read let its session close on the endpoint's thread (egactl.server.scope._plain).

A read's session is closed right after its endpoint when the answer needs no
database any more; an answer holding an ORM object (whose attributes may still
load lazily while FastAPI serialises it), a stream (which may still read), or
anything unknown keeps the session until the request's end. The check runs for
every read's answer, value by value, so it is written for speed; these cases pin
what it must still decide.
"""

from __future__ import annotations

import datetime as dt
import enum

import pytest
from starlette.responses import JSONResponse, StreamingResponse

from egactl.server.models import Institution
from egactl.server.scope import _plain


class Kind(str, enum.Enum):
    AGENCY = "agency"


def nested(depth: int, leaf):
    value = leaf
    for _ in range(depth):
        value = {"inner": [value]}
    return value


@pytest.mark.parametrize("answer", [
    None, "text", 3, 2.5, True, (), [], {},
    {"items": [{"code": "RITA", "version": 1, "region": None, "cost": 0.5, "active": False}], "next_cursor": None},
    [("tuple", 1), ["list", None]],
    {"kind": Kind.AGENCY},  # a str subclass is plain data
    JSONResponse({"ok": True}),
    nested(4, "leaf"),
], ids=repr)
def test_plain_data_needs_no_session(answer):
    assert _plain(answer) is True


@pytest.mark.parametrize("answer", [
    Institution(code="RITA", name="RITA", kind="agency"),
    {"items": [{"code": "RITA"}, Institution(code="RITA", name="RITA", kind="agency")]},
    [[{"deep": [Institution(code="RITA", name="RITA", kind="agency")]}]],
    {"when": dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)},  # not known to be plain: kept open
    StreamingResponse(iter([b"x"])),
    nested(12, "leaf"),  # deeper than the walk goes
], ids=lambda a: type(a).__name__)
def test_anything_else_keeps_the_session_until_the_request_ends(answer):
    assert _plain(answer) is False
