"""Playing the USSD gateway against an institution's application.

The gateway speaks a small protocol (the one Africa's Talking and most
African aggregators use): for each key press it POSTs a form with
``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode`` and ``text``
— the whole path of choices so far, joined by ``*`` (``""``, ``"1"``,
``"1*2"``) — and the application answers with plain text starting ``CON ``
(show this screen and wait for a choice) or ``END `` (show it and hang up).

A real gateway drops the session on anything else, so the simulator refuses
exactly what the gateway would: a reply with neither prefix, a screen longer
than 182 characters, an answer slower than the timeout, an HTTP error or a
redirect. A screen is measured as the network measures it: GSM-7 septets (182
at most; ``[ ] { } € ~ ^ | \\`` count two), or, when a character is not in GSM
03.38, UCS-2 code units (80 at most). Each refusal is an exception carrying its
exit code:

- 1 (:class:`Rejected`): the application answered, wrongly;
- 7 (:class:`NoAnswer`): it could not be reached, or did not answer in time;
- 2 (``InvalidInput``): the session is still open and no more input was given.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from egactl.plugin.cli import EGACTL_VERSION, EgactlError, InvalidInput, Unreachable

REPLY_SHOWN = 500
"""Characters kept of a reply the gateway refuses (an error page can be any size)."""

SCREEN_LIMIT = 182
"""Septets in one GSM-7 USSD screen: the 160 octets of a USSD string, 7 bits a character."""
UCS2_SCREEN_LIMIT = 80
"""UTF-16 code units in one UCS-2 screen: the same 160 octets, 16 bits a unit."""
GSM7, UCS2 = "GSM-7", "UCS-2"


# -- a screen, as the network measures it ----------------------------------------------


def _gsm_septets(text: str) -> int | None:
    """Septets ``text`` takes in GSM 03.38 (an extension character such as ``[`` or ``€``
    is an escape plus one: two), or None if it has a character GSM 03.38 lacks."""
    import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

    if "\x1b" in text:  # the escape septet itself is not a character a screen may carry
        return None
    try:
        return len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        return None


def measure_screen(text: str) -> tuple[str, int, int, list[str]]:
    """(encoding, length in it, the limit in it, the characters that forced UCS-2).

    A screen goes as GSM-7 when every character is in GSM 03.38, limited to 182
    septets; otherwise as UCS-2, limited to 80 UTF-16 code units (a character
    outside the BMP, such as an emoji, is a surrogate pair: two).
    """
    septets = _gsm_septets(text)
    if septets is not None:
        return GSM7, septets, SCREEN_LIMIT, []
    forced = [c for c in dict.fromkeys(text) if _gsm_septets(c) is None]
    return UCS2, len(text.encode("utf-16-le")) // 2, UCS2_SCREEN_LIMIT, forced


def describe_characters(chars: list[str], limit: int = 6) -> str:
    """"’ (U+2019), é (U+00E9)": characters named so a person can find them."""
    shown = [f"{c} (U+{ord(c):04X})" if c.isprintable() else f"U+{ord(c):04X}" for c in chars[:limit]]
    return ", ".join(shown) + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


# -- the session -----------------------------------------------------------------------


class Rejected(EgactlError):
    """The application answered, but not in a way the gateway accepts (``failure``, exit 1)."""

    exit_code = 1


class NoAnswer(Unreachable):
    """The application could not be reached, or answered too slowly (``unreachable``, exit 7)."""


@dataclass
class Step:
    text: str
    """What the gateway sent as ``text``: every choice so far, joined by ``*``."""
    input: str | None
    """The choice that led here (None for the first screen)."""
    status: int | None = None
    elapsed_ms: int | None = None
    reply: str | None = None
    """The reply, cut to its first 500 characters (an application's error page can be huge)."""
    reply_length: int | None = None
    """The whole reply's length in characters."""
    kind: str | None = None
    """``CON`` or ``END``; None when the reply was refused."""
    screen: str | None = None
    encoding: str | None = None
    """``GSM-7`` or ``UCS-2``: what the network must send the screen as."""
    screen_length: int | None = None
    """In the encoding's units: GSM-7 septets or UCS-2 code units."""
    screen_limit: int | None = None
    """182 (GSM-7) or 80 (UCS-2)."""
    forced_ucs2: list[str] = field(default_factory=list)
    """The characters not in GSM 03.38 that made the screen UCS-2."""


@dataclass
class Transcript:
    code: str
    url: str
    session_id: str
    phone_number: str
    network: str
    network_code: str
    outcome: str = "open"
    """``ended`` (a clean END), ``rejected``, ``unreachable`` or ``open``."""
    error: str | None = None
    steps: list[Step] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Gateway:
    """One USSD session against one application URL."""

    def __init__(self, url: str, *, code: str, phone: str, network: str, network_code: str, timeout: float,
                 transport: Any = None):
        import httpx

        self.transcript = Transcript(code=code, url=url, session_id=f"egactl-sim-{uuid.uuid4().hex[:16]}",
                                     phone_number=phone, network=network, network_code=network_code)
        self.timeout = timeout
        kwargs = {"transport": transport} if transport is not None else {}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False,
                                  headers={"User-Agent": f"egactl-ussd-simulator/{EGACTL_VERSION}"}, **kwargs)

    def close(self) -> None:
        self._http.close()

    def send(self, path: list[str], choice: str | None) -> Step:
        """POST one step; return it if the gateway would accept it, else raise."""
        import httpx

        t = self.transcript
        step = Step(text="*".join(path), input=choice)
        t.steps.append(step)
        form = {"sessionId": t.session_id, "serviceCode": t.code, "phoneNumber": t.phone_number,
                "networkCode": t.network_code, "text": step.text}
        started = time.perf_counter()
        try:
            response = self._http.post(t.url, data=form)
        except httpx.TimeoutException:
            step.elapsed_ms = int((time.perf_counter() - started) * 1000)
            raise self._fail("unreachable", NoAnswer(
                f"the application did not answer within {self.timeout:g} s (the gateway would drop the session)",
                hint="make the application faster, or try a longer --timeout to see how slow it is"))
        except httpx.TransportError as exc:
            raise self._fail("unreachable", NoAnswer(
                f"could not reach the application at {t.url} ({type(exc).__name__}: {exc})",
                hint="check the callback URL (egactl ussd show) and that the application is running"))
        elapsed = time.perf_counter() - started
        step.status, step.elapsed_ms = response.status_code, int(elapsed * 1000)
        reply = response.text
        step.reply, step.reply_length = reply[:REPLY_SHOWN], len(reply)
        if response.is_redirect:
            raise self._fail("rejected", Rejected(
                f"the application redirected (HTTP {response.status_code} to {response.headers.get('Location', '?')}); "
                "the gateway does not follow redirects", hint="register the final URL with `egactl ussd update --callback-url`"))
        if response.status_code >= 400:
            raise self._fail("rejected", Rejected(
                f"the application answered HTTP {response.status_code} {response.reason_phrase} at text={step.text!r}"))
        if elapsed > self.timeout:
            raise self._fail("unreachable", NoAnswer(
                f"the application took {elapsed:.1f} s to answer, more than the {self.timeout:g} s the gateway waits"))
        if reply.startswith("CON ") or reply.startswith("END "):
            step.kind, step.screen = reply[:3], reply[4:]
        elif reply in ("CON", "END"):
            step.kind, step.screen = reply, ""
        else:
            first = reply.splitlines()[0][:40] if reply.strip() else "(an empty reply)"
            raise self._fail("rejected", Rejected(
                f"the reply at text={step.text!r} starts with neither 'CON ' nor 'END ': {first!r}",
                hint="answer 'CON <screen>' to continue or 'END <screen>' to finish"))
        step.encoding, step.screen_length, step.screen_limit, step.forced_ucs2 = measure_screen(step.screen)
        if step.screen_length > step.screen_limit:
            if step.forced_ucs2:
                size = (f"needs UCS-2 (because of {describe_characters(step.forced_ucs2)}) and is {step.screen_length} "
                        f"UTF-16 units; a UCS-2 screen holds at most {step.screen_limit}")
            else:
                size = (f"is {step.screen_length} GSM-7 septets ([ ] {{ }} € ~ ^ | \\ count two); "
                        f"the gateway allows at most {step.screen_limit}")
            raise self._fail("rejected", Rejected(f"the screen at text={step.text!r} {size}",
                                                  hint="shorten the menu or split it over two screens"))
        return step

    def _fail(self, outcome: str, error: EgactlError) -> EgactlError:
        self.transcript.outcome, self.transcript.error = outcome, error.message
        return error


class ThroughApi:
    """An httpx transport for an application on the API's own address: each request
    goes through the API client (its credentials, its transport, ``--debug``).

    The reference backend serves a demo application itself (``/api/v1/ussd/demo``,
    the sandbox's ``*152*99#``). In the sandbox the backend runs in this process,
    reached through an in-process transport rather than the network, so that is the
    only way to reach it; against ``egactl serve`` it also brings the token the
    route asks for. No other URL is sent this way.
    """

    def __init__(self, api: Any, base_path: str = ""):
        self.api, self.base_path = api, base_path.rstrip("/")

    def handle_request(self, request: Any) -> Any:
        import httpx

        target = request.url.raw_path.decode("ascii")
        path = target[len(self.base_path):] if self.base_path and target.startswith(self.base_path) else target
        headers = {k: v for k, v in request.headers.items() if k.lower() == "content-type"}
        try:
            response = self.api.request(request.method, path, content=request.read(), headers=headers,
                                        raise_for_status=False)
        except EgactlError as exc:  # the API itself is unreachable: so is its application
            raise httpx.ConnectError(exc.message, request=request) from None
        kept = [(k, v) for k, v in response.headers.items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=kept, content=response.content, request=request)

    def close(self) -> None:
        pass


def on_api(url: str, api_base: str) -> str | None:
    """The API's base path if ``url`` is on the API's own address (``api_base``), else None."""
    from urllib.parse import urlsplit

    def origin(parts: Any) -> tuple[str, str, int | None]:
        default = {"http": 80, "https": 443}.get(parts.scheme)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default

    try:
        app, base = urlsplit(url), urlsplit(api_base)
        if origin(app) != origin(base):
            return None
    except ValueError:
        return None
    base_path = base.path.rstrip("/")
    if base_path and not (app.path == base_path or app.path.startswith(base_path + "/")):
        return None
    return base_path


def split_input(value: str | None) -> list[str]:
    """``"1*2*3"`` → ``["1", "2", "3"]``: the choices a subscriber would key in."""
    if value is None or value == "":
        return []
    parts = value.split("*")
    if any(p.strip() == "" for p in parts):
        raise InvalidInput(f"--input {value!r} has an empty choice; write the choices joined by '*', e.g. '1*2*3'")
    return [p.strip() for p in parts]


def play(gateway: Gateway, inputs: Iterable[str], *, ask: Callable[[Step], str | None] | None,
         show: Callable[[Step], None], warn: Callable[[str], None]) -> Transcript:
    """Run the session to its END.

    ``inputs`` are the scripted choices, used first; then ``ask`` (a person at
    a terminal) is asked for each further choice, or, without one, the session
    stops with exit 2 naming ``--input``.
    """
    pending = list(inputs)
    path: list[str] = []
    step = gateway.send(path, None)
    show(step)
    while step.kind == "CON":
        if pending:
            choice: str | None = pending.pop(0)
        elif ask is not None:
            choice = ask(step)
            if choice is None:
                gateway.transcript.outcome = "open"
                gateway.transcript.error = "the session was abandoned at the terminal"
                raise InvalidInput("session abandoned; the application was left waiting for a choice")
        else:
            gateway.transcript.error = "the application is waiting for a choice and no more input was given"
            raise InvalidInput(
                f"the session is still open after {len(path)} choice{'s' if len(path) != 1 else ''}: "
                "the application is waiting for another one",
                hint="add it to --input (choices joined by '*', e.g. --input '1*2')")
        path.append(choice)
        step = gateway.send(path, choice)
        show(step)
    gateway.transcript.outcome = "ended"
    if pending:
        warn(f"the session ended before {len(pending)} more choice{'s' if len(pending) != 1 else ''} "
             f"of --input could be used: {'*'.join(pending)}")
    return gateway.transcript
