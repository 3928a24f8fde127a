"""/api/v1/ussd/demo: a small USSD application that the reference backend serves itself.

It answers the gateway's protocol as an institution's application does (a form
with ``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode`` and
``text``, the choices so far joined by ``*``; a plain-text reply starting
``CON `` to show a screen and wait, or ``END `` to show it and hang up), with a
menu of two levels. The sandbox seed assigns ``*152*99#`` to it, so that
``egactl ussd simulate 99 --input 1*2`` works out of the box, and anyone may
point ``ussd simulate --url`` at it to see what a good application looks like.

It is an API route like any other (a token is needed; the help desk may call it:
it only reads and changes nothing). ``egactl ussd simulate`` reaches an
application on the API's own address through the API client, so the same
callback works in the in-process sandbox and against ``egactl serve``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import PlainTextResponse

from egactl.plugin.server import ApiRoute, helpdesk_allowed

router = APIRouter(route_class=ApiRoute)

PATH = "/demo"
"""Where the application answers, under ``/api/v1/ussd``."""

MENU = {
    "": "CON Welcome to the e-GA demo service\n1. Birth certificate\n2. Help",
    "1": "CON Birth certificate\n1. Apply\n2. Fee",
    "1*1": "END Your application has been received. You will get an SMS.",
    "1*2": "END The fee is TSh 3,500",
    "2": "END This is a demo of egactl ussd simulate. Goodbye",
}
"""Each path of choices and the application's reply to it."""

UNKNOWN = "END Invalid choice. Please dial again"
"""The reply to any other path: real applications end the session on a choice they do not offer."""


def reply(text: str) -> str:
    """The application's answer to ``text`` (the choices so far, joined by ``*``)."""
    return MENU.get(text.strip(), UNKNOWN)


@router.post(PATH, response_class=PlainTextResponse,
             responses={200: {"description": "the screen: `CON …` (wait for a choice) or `END …` (hang up)",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}})
@helpdesk_allowed  # it changes nothing: the help desk simulates codes too
def demo_application(
        text: Annotated[str, Form(max_length=182, description="The choices so far, joined by '*' ('' at first).")] = "",
        sessionId: Annotated[str | None, Form(max_length=100)] = None,  # noqa: N803 (the protocol's names)
        serviceCode: Annotated[str | None, Form(max_length=20)] = None,  # noqa: N803
        phoneNumber: Annotated[str | None, Form(max_length=20)] = None,  # noqa: N803
        networkCode: Annotated[str | None, Form(max_length=10)] = None):  # noqa: N803
    """A small USSD application (two levels of menu), as an institution would run one behind its code."""
    return PlainTextResponse(reply(text))
