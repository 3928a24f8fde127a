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

The gateway's answer becomes an ``Outcome``: accepted, failed (with the
gateway's reason), retry (it certainly did not take the message: connection
refused, 429/500/502/503) or unknown (the request may have reached it: a
timeout or dropped connection after sending, 504). The worker never resends an
unknown outcome (see ``delivery``).

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

from egactl_sms import validation

ACCEPTED, FAILED, RETRY, UNKNOWN = "accepted", "failed", "retry", "unknown"
RETRY_STATUSES = frozenset({429, 500, 502, 503})
UNKNOWN_STATUSES = frozenset({504})

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
        from egactl_sms.backend.models import OutboxEntry

        session.execute(OutboxEntry.__table__.insert(), [
            {"message_id": m.id, "batch_id": m.batch_id, "institution": m.institution, "sender": m.sender,
             "recipient": m.recipient, "body": m.body, "encoding": m.encoding, "segments": m.segments,
             "sent_at": now} for m in messages])


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
        when = validation.msdg_datetime(now)
        data = json.dumps({"recipients": ",".join(validation.msdg_msisdn(r) for r in recipients),
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
    """The gateway's answer as an Outcome.

    Public MSDG clients read ``error`` (true on failure), ``statusCode`` and
    ``statusMessage``; anything else that says failure (``success: false``,
    ``status: "error"``) counts as failure too.
    """
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    reason = _reason(body) or f"HTTP {status} {phrase}".strip()
    if status in RETRY_STATUSES:
        return Outcome(RETRY, f"gateway answered HTTP {status}: {reason}")
    if status in UNKNOWN_STATUSES:
        return Outcome(UNKNOWN, f"gateway answered HTTP {status}: {reason}")
    if status >= 400 or (isinstance(body, dict) and _is_error(body)):
        return Outcome(FAILED, f"gateway rejected the request: {reason}")
    return Outcome(ACCEPTED, ref=_ref(body))


def _is_error(body: dict) -> bool:
    if body.get("error") or body.get("success") is False:
        return True
    if str(body.get("status", "")).lower() in ("error", "failed", "failure", "fail"):
        return True
    code = body.get("statusCode")
    return str(code).isdigit() and int(str(code)) >= 400


def _reason(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("statusMessage", "message", "error_message", "detail", "error", "status"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:300]
    return None


def _ref(body: Any) -> str | None:
    if isinstance(body, dict):
        data = body.get("data")
        for source in (data if isinstance(data, dict) else {}, body):
            for key in ("id", "message_id", "reference", "ref"):
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
