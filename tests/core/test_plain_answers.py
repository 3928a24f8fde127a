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
    pytest.param(None, id="None"), pytest.param("text", id="str"), pytest.param(3, id="int"),
    pytest.param(2.5, id="float"), pytest.param(True, id="bool"),
    pytest.param((), id="empty tuple"), pytest.param([], id="empty list"), pytest.param({}, id="empty dict"),
    pytest.param({"items": [{"code": "RITA", "version": 1, "region": None, "cost": 0.5, "active": False}],
                  "next_cursor": None}, id="a page"),
    pytest.param([("tuple", 1), ["list", None]], id="nested sequences"),
    pytest.param({"kind": Kind.AGENCY}, id="a str subclass"),
    pytest.param(JSONResponse({"ok": True}), id="a JSON response"),
    pytest.param(nested(4, "leaf"), id="four levels deep"),
])
def test_plain_data_needs_no_session(answer):
    assert _plain(answer) is True


@pytest.mark.parametrize("answer", [
    pytest.param(Institution(code="RITA", name="RITA", kind="agency"), id="an ORM object"),
    pytest.param({"items": [{"code": "RITA"}, Institution(code="RITA", name="RITA", kind="agency")]},
                 id="an ORM object in a page"),
    pytest.param([[{"deep": [Institution(code="RITA", name="RITA", kind="agency")]}]], id="an ORM object deep down"),
    pytest.param({"when": dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)},
                 id="a datetime (not known to be plain: kept open)"),
    pytest.param(StreamingResponse(iter([b"x"])), id="a stream"),
    pytest.param(nested(12, "leaf"), id="deeper than the walk goes"),
])
def test_anything_else_keeps_the_session_until_the_request_ends(answer):
    assert _plain(answer) is False
