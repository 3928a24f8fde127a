"""Delivery drivers: who a queued message is finally handed to.

- ``outbox`` (the sandbox and the default): records what would have been sent
  in ``sms_outbox`` and marks it delivered, in the same transaction that takes
  the message off the queue, so it is exactly-once by construction.
- ``msdg``: e-GA's Mobile Service Delivery Gateway. A form POST with ``data``
  (a JSON string: recipients comma-separated in ``255…`` form, message,
  datetime ``YYYY-MM-DD HH:MM:SS`` EAT, sender_id, mobile_service_id) and
  ``datetime``; signed with ``X-Auth-Request-Hash`` = base64(HMAC-SHA256(data,
  API key)), ``X-Auth-Request-Id`` (the account e-mail) and
  ``X-Auth-Request-Type: api``.

The gateway's answer becomes an ``Outcome`` (see ``interpret``): accepted
(MSDG's ``error: false`` with code 48200), failed (``error: true`` or another
482xx code, with the gateway's ``statusMessage``; or an answer not understood
after an HTTP 4xx), retry (it certainly did not take the message: connection
refused, HTTP 429 or 503) or unknown (it may have: a timeout or dropped
connection after sending, an HTTP 5xx, any answer not understood). The worker
never resends an unknown outcome (see ``delivery``).

Configuration comes from backend settings (``EGACTL_SMS_DRIVER``,
``EGACTL_SMS_MSDG_URL``, ``EGACTL_SMS_MSDG_API_KEY`` or
``EGACTL_SMS_MSDG_API_KEY_FILE``, ``EGACTL_SMS_MSDG_ACCOUNT``,
``EGACTL_SMS_MSDG_SERVICE_ID``…); the API key is never stored in the database,
never logged and never shown by ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from egactl_sms import rules

ACCEPTED, FAILED, RETRY, UNKNOWN = "accepted", "failed", "retry", "unknown"
RETRY_STATUSES = frozenset({429, 503})

Setting = Callable[[str], Any]


class NotConfigured(Exception):
    """The chosen driver lacks settings; messages stay queued until it is fixed."""


@dataclass
class Outcome:
    status: str
    reason: str | None = None
    ref: str | None = None


@dataclass
class Outgoing:
    """What a driver needs of one message."""

    id: int
    batch_id: int
    institution: str
    sender: str
    recipient: str
    body: str
    encoding: str
    segments: int


class Driver:
    """The driver interface.

    A *transactional* driver records its work in the worker's own database
    transaction (``record``): nothing can be done twice or lost. Any other
    driver talks to the outside world (``send``), one call per group of
    recipients sharing a text and sender, at most ``chunk_size`` at a time.
    """

    name = "custom"
    transactional = False
    drain = False
    """Keep claiming within one tick until the queue is empty (only for local drivers)."""
    chunk_size = 100

    def record(self, session: Any, messages: list[Outgoing], now: Any) -> None:
        raise NotImplementedError

    def send(self, sender: str, text: str, recipients: list[str], now: Any) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        pass


class OutboxDriver(Driver):
    name = "outbox"
    transactional = True
    drain = True

    def record(self, session: Any, messages: list[Outgoing], now: Any) -> None:
        from egactl_sms.server.models import OutboxEntry

        session.execute(OutboxEntry.__table__.insert(), [
            {"message_id": m.id, "batch_id": m.batch_id, "institution": m.institution, "sender": m.sender,
             "recipient": m.recipient, "body": m.body, "encoding": m.encoding, "segments": m.segments,
             "sent_at": now} for m in messages])


def msdg_msisdn(e164: str) -> str:
    """``+255754123456`` → ``255754123456``: the form the MSDG gateway takes."""
    return e164.lstrip("+")


def msdg_datetime(when: Any) -> str:
    """'YYYY-MM-DD HH:MM:SS' in East Africa Time, as the MSDG gateway expects."""
    return rules.in_eat(when).strftime("%Y-%m-%d %H:%M:%S")


class MsdgDriver(Driver):
    name = "msdg"

    def __init__(self, *, url: str, api_key: str, account: str, service_id: str, chunk_size: int = 100,
                 timeout: float = 30.0):
        import httpx

        self.url = url
        self._key = api_key.encode("utf-8")
        self.account = account
        self.service_id = service_id
        self.chunk_size = max(1, int(chunk_size))
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def __repr__(self) -> str:
        return f"MsdgDriver(url={self.url!r}, account={self.account!r}, api_key=[REDACTED])"

    def payload(self, sender: str, text: str, recipients: list[str], now: Any) -> tuple[str, str]:
        """(the ``data`` JSON string, the ``datetime`` field)."""
        when = msdg_datetime(now)
        data = json.dumps({"recipients": ",".join(msdg_msisdn(r) for r in recipients),
                           "message": text, "datetime": when, "sender_id": sender,
                           "mobile_service_id": self.service_id}, separators=(",", ":"))
        return data, when

    def signature(self, data: str) -> str:
        return base64.b64encode(hmac.new(self._key, data.encode("utf-8"), hashlib.sha256).digest()).decode("ascii")

    def send(self, sender: str, text: str, recipients: list[str], now: Any) -> Outcome:
        import httpx

        data, when = self.payload(sender, text, recipients, now)
        headers = {"X-Auth-Request-Hash": self.signature(data), "X-Auth-Request-Id": self.account,
                   "X-Auth-Request-Type": "api", "Accept": "application/json"}
        try:
            response = self._http.post(self.url, data={"data": data, "datetime": when}, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return Outcome(RETRY, f"gateway unreachable ({type(exc).__name__})")
        except httpx.TransportError as exc:
            return Outcome(UNKNOWN, f"the connection failed after the request was sent ({type(exc).__name__})")
        return interpret(response.status_code, response.reason_phrase, response.content)

    def close(self) -> None:
        self._http.close()


def interpret(status: int, phrase: str, content: bytes) -> Outcome:
    """The gateway's answer as an Outcome, read as MSDG means it.

    MSDG answers with its own codes in the body, whatever the HTTP status
    (often 200 for a refusal too): ``{"error": false, "statusCode": 48200,
    "statusMessage": "Success", "data": [...]}`` when it took the request,
    ``{"error": true, "statusCode": 48205, "statusMessage": "Invalid Request"}``
    when it did not. So:

    1. HTTP 429 or 503: the gateway (or its front) refused before taking the
       request; retry later.
    2. An MSDG body: the ``error`` flag first (true: failed, with the
       ``statusMessage``), then the code: 48200 with an HTTP 2xx is accepted,
       any other code is failed with its ``statusMessage``.
    3. Anything else (an HTML error page, an empty or plain-text answer, JSON
       of another shape) is not understood. After an HTTP 4xx the request was
       certainly refused: failed. Otherwise the gateway may have acted on it:
       the outcome is unknown (failed, never resent). Either way the reason
       carries the raw answer, truncated. Nothing unknown is ever taken for
       success or retried.
    """
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    if status in RETRY_STATUSES:
        return Outcome(RETRY, f"gateway answered HTTP {status} {phrase}".strip() + _raw(content))
    if isinstance(body, dict) and ("error" in body or "statusCode" in body):
        error, code = body.get("error"), _code(body.get("statusCode"))
        message = _message(body)
        said = f"{message} ({code})" if message and code is not None else message or f"code {code}"
        if error is True:
            return Outcome(FAILED, f"gateway refused the request: {said}")
        if error is False and code == MSDG_SUCCESS and 200 <= status < 300:
            return Outcome(ACCEPTED, ref=_ref(body))
        if error is False and code is not None and code != MSDG_SUCCESS and code // 100 == MSDG_FAMILY:
            return Outcome(FAILED, f"gateway refused the request: {said}")
    what = f"HTTP {status} {phrase}".strip()
    if 400 <= status < 500:
        return Outcome(FAILED, f"gateway refused the request with an answer egactl does not understand "
                               f"({what}{_raw(content)})")
    return Outcome(UNKNOWN, f"the gateway's answer was not understood ({what}{_raw(content)})")


MSDG_SUCCESS = 48200
MSDG_FAMILY = 482
RAW_LIMIT = 200


def _code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _message(body: dict) -> str | None:
    value = body.get("statusMessage")
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())[:300]
    return None


def _raw(content: bytes) -> str:
    """``: body '…'`` — the answer as it came, whitespace folded, cut at RAW_LIMIT characters."""
    if not content:
        return ", empty body"
    text = " ".join(content.decode("utf-8", errors="replace").split())
    if len(text) > RAW_LIMIT:
        text = text[:RAW_LIMIT] + "…"
    return f", body {text!r}"


def _ref(body: Any) -> str | None:
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            data = data[0]
        for source in (data if isinstance(data, dict) else {}, body):
            for key in ("id", "message_id", "messageId", "reference", "ref"):
                if source.get(key) not in (None, ""):
                    return str(source[key])[:100]
    return None


# -- choosing and configuring ----------------------------------------------------------


def driver_name(setting: Setting) -> str:
    value = setting("driver")
    return value if isinstance(value, str) else getattr(value, "name", type(value).__name__)


def _api_key(setting: Setting) -> str:
    key = setting("msdg_api_key") or ""
    path = setting("msdg_api_key_file") or ""
    if not key and path:
        try:
            key = Path(path).read_text("utf-8").strip()
        except OSError as exc:
            raise NotConfigured(f"cannot read EGACTL_SMS_MSDG_API_KEY_FILE ({exc.strerror})") from None
    return key


def configuration_problem(setting: Setting) -> str | None:
    name = setting("driver")
    if not isinstance(name, str):
        return None
    if name == "outbox":
        return None
    if name != "msdg":
        return f"unknown SMS driver {name!r} (EGACTL_SMS_DRIVER: outbox or msdg)"
    missing = [env for key, env in (("msdg_url", "EGACTL_SMS_MSDG_URL"), ("msdg_account", "EGACTL_SMS_MSDG_ACCOUNT"),
                                    ("msdg_service_id", "EGACTL_SMS_MSDG_SERVICE_ID")) if not setting(key)]
    try:
        if not _api_key(setting):
            missing.append("EGACTL_SMS_MSDG_API_KEY")
    except NotConfigured as exc:
        return str(exc)
    return f"the msdg driver needs {', '.join(missing)}" if missing else None


def paused_warning(problem: str) -> str:
    return f"sms delivery paused: {problem}; messages stay queued until this is fixed"


def paused(setting: Setting) -> str | None:
    """The warning for people while delivery is paused (the chosen driver lacks settings), or None.

    Every answer that queues messages carries it (``warnings``), so each command that queues
    tells its user, whatever server answers it: a log line reaches only the server's log (and,
    in the sandbox's long-lived server, only the command that happened to be running when the
    worker first noticed)."""
    problem = configuration_problem(setting)
    return paused_warning(problem) if problem else None


def make(setting: Setting) -> tuple[Driver, bool]:
    """(the configured driver, whether the caller owns it and must close it)."""
    value = setting("driver")
    if not isinstance(value, str):
        return value, False  # a driver object given in the settings (tests, embedding)
    if problem := configuration_problem(setting):
        raise NotConfigured(problem)
    if value == "outbox":
        return OutboxDriver(), True
    return MsdgDriver(url=setting("msdg_url"), api_key=_api_key(setting), account=setting("msdg_account"),
                      service_id=str(setting("msdg_service_id")), chunk_size=int(setting("msdg_chunk")),
                      timeout=float(setting("msdg_timeout"))), True
