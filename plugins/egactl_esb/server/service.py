"""The emulator's work: its key, the bus tokens, and one exchange from a consumer's
envelope to the provider and back.

An exchange runs in three steps, so that no database transaction is held open
while the provider is called: ``admit`` (read: the token, the caller's client and
key, the API; verify the signature; open an encrypted body), the provider call
(``call_provider``: a real HTTP call; in the sandbox, an endpoint on the sandbox's
own address is reached through the backend itself), and ``settle`` (write: the
audit entry, with the bodies masked). Every refusal is what the bus answers: a
``success: false`` with a message, signed with the bus's key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from egactl.plugin.rules import RuleError
from egactl.plugin.server import audit, backend, db
from egactl_esb import rules
from egactl_esb.server.models import EsbApi, EsbClient, EsbKey, EsbToken

TOKEN_PREFIX = "esb_"
KEY_NAME = "bus"


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret (a client secret, a bus token): one indexed lookup, as for egactl's tokens."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


# -- the bus's key -----------------------------------------------------------------------


def bus_key() -> Any:
    """The bus's private key: the ``private_key`` setting, else the one made at first use and kept
    in the database (made in a transaction of its own, race-free: the first writer wins)."""
    configured = backend().setting("esb", "private_key")
    if configured:
        return rules.import_private(configured)
    be = backend()
    with be.read_sessions() as session:
        row = session.get(EsbKey, KEY_NAME)
        if row is not None:
            return rules.import_private(row.private_key)
    made = rules.generate_key(backend().setting("esb", "curve") or "secp256k1")
    with be.write_sessions() as session:
        try:
            session.add(EsbKey(name=KEY_NAME, private_key=rules.export_private(made), created_at=be.now()))
            session.commit()
            return made
        except IntegrityError:
            session.rollback()
    with be.read_sessions() as session:
        return rules.import_private(session.get(EsbKey, KEY_NAME).private_key)


# -- tokens ------------------------------------------------------------------------------


def client_by_credentials(session: Any, client_id: str, secret: str) -> EsbClient | None:
    row = session.scalar(select(EsbClient).where(EsbClient.client_id == client_id))
    if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
        return None
    return row


def issue_token(client: EsbClient) -> tuple[str, int]:
    """A new bus token for ``client``; its older ones are superseded. (token, seconds it lasts)."""
    session, now = db(), backend().now()
    lifetime = int(backend().setting("esb", "token_seconds"))
    session.execute(update(EsbToken).where(EsbToken.client == client.id, EsbToken.superseded_at.is_(None))
                    .values(superseded_at=now))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(EsbToken(client=client.id, token_hash=hash_secret(token), issued_at=now,
                         expires_at=now + dt.timedelta(seconds=lifetime)))
    return token, lifetime


# -- one exchange ------------------------------------------------------------------------


@dataclass
class Exchange:
    """One exchange as it goes through the bus."""

    kind: str
    request_id: str
    format: str = "json"
    client_id: str | None = None
    consumer: str | None = None
    code: str | None = None
    provider: str | None = None
    endpoint: str | None = None
    api_format: str | None = None
    body: Any = None
    user_id: str | None = None
    sealed: bool = False
    consumer_key: Any = None
    provider_key: Any = None
    refusal: str | None = None
    success: bool = False
    message: str = ""
    answer_body: Any = None
    request_bytes: int = 0
    answer_bytes: int = 0
    provider_status: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _refuse(ex: Exchange, message: str) -> Exchange:
    ex.refusal = message
    return ex


def admit(kind: str, raw: bytes, authorization: str | None, request_id: str) -> Exchange:
    """Everything the bus checks before it calls the provider; a refusal is kept in ``refusal``."""
    from egactl.plugin.server import act_as

    ex = Exchange(kind, request_id, request_bytes=len(raw))
    try:
        text = raw.decode("utf-8")
        ex.format = rules.detect_format(text)
    except (UnicodeDecodeError, RuleError):
        return _refuse(ex, "Invalid request: the body must be a JSON or XML envelope in UTF-8")
    be = backend()
    now = be.now()
    with be.read_sessions() as session:
        if not authorization or not authorization.lower().startswith("bearer "):
            return _refuse(ex, "Unauthorized: no bearer access token was sent")
        presented = authorization.split(" ", 1)[1].strip()
        token = session.scalar(select(EsbToken).where(EsbToken.token_hash == hash_secret(presented)))
        if token is None:
            return _refuse(ex, "Unauthorized: invalid access token")
        client = session.get(EsbClient, token.client)
        ex.client_id, ex.consumer = client.client_id, client.institution
        act_as(client.client_id, role="esb-client", institutions=(client.institution,))
        if token.expires_at <= now:
            return _refuse(ex, f"Unauthorized: access token expired at {token.expires_at.isoformat()}")
        if token.superseded_at is not None:
            return _refuse(ex, "Unauthorized: access token was replaced by a newer one (a replayed request?)")
        ex.consumer_key = rules.import_public(client.public_key)
        try:
            envelope = rules.parse_envelope(text)
            fields = rules.read_fields(envelope)
        except RuleError as exc:
            return _refuse(ex, f"Invalid request: {exc}")
        try:
            rules.verify(envelope.data_bytes, envelope.signature, ex.consumer_key)
        except RuleError:
            return _refuse(ex, f"Invalid signature: the request is not signed by the key registered for client "
                               f"{client.client_id}")
        code_field = rules.KINDS[kind][0]
        code = fields.get(code_field)
        if not isinstance(code, str) or not code:
            return _refuse(ex, f"Invalid request: data.{code_field} is missing")
        ex.code, ex.body = code, fields.body
        if kind == "nida":
            user = fields.get("userId")
            if not isinstance(user, str) or rules.check_user_id(user):
                return _refuse(ex, "Invalid request: data.userId is missing or not a user id")
            ex.user_id = user
        api = session.scalar(select(EsbApi).where(EsbApi.code == code))
        if api is None:
            return _refuse(ex, f"Unknown API code {code}")
        ex.provider, ex.endpoint, ex.api_format = api.institution, api.endpoint, api.format
        if client.institution != api.institution and client.institution not in (api.consumers or []):
            return _refuse(ex, f"{client.institution} is not a consumer of API {code}")
        if api.format != ex.format:
            return _refuse(ex, f"API {code} speaks {api.format.upper()}; send a {api.format.upper()} envelope")
        provider = session.scalar(select(EsbClient).where(EsbClient.institution == api.institution)
                                  .order_by(EsbClient.id.desc()).limit(1))
        if provider is None:
            return _refuse(ex, f"API {code}: its provider {api.institution} has no client registered with the bus")
        ex.provider_key = rules.import_public(provider.public_key)
    if rules.is_sealed(ex.body, ex.format):
        ex.sealed = True
        try:
            ex.body = rules.open_body(ex.body, bus_key(), ex.format)
        except RuleError:
            return _refuse(ex, "Invalid request: the encrypted esbBody does not decrypt with the bus's key")
    return ex


async def call_provider(ex: Exchange, app: Any) -> None:
    """Send the request to the provider's endpoint, signed by the bus; verify its signed answer."""
    import httpx

    key = bus_key()
    data = rules.request_data(ex.kind, ex.code, ex.body, fmt=ex.format, user_id=ex.user_id, request_id=ex.request_id)
    envelope = rules.sign_data(data, key, root="esbrequest")
    media = "application/json" if ex.format == "json" else "application/xml"
    timeout = float(backend().setting("esb", "provider_timeout"))
    kwargs: dict[str, Any] = {"timeout": timeout}
    if backend().sandbox and httpx.URL(ex.endpoint).host == "sandbox":
        # The sandbox's own address (its demo provider): through the backend itself, as the API client does.
        kwargs["transport"] = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(**kwargs) as http:
            response = await http.post(ex.endpoint, content=envelope.encode("utf-8"),
                                       headers={"Content-Type": media, "X-Request-ID": ex.request_id})
    except httpx.TimeoutException:
        _refuse(ex, f"Provider {ex.provider} did not answer within {timeout:g} s")
        return
    except httpx.HTTPError as exc:
        _refuse(ex, f"Provider {ex.provider} is unreachable ({type(exc).__name__})")
        return
    ex.provider_status, ex.answer_bytes = response.status_code, len(response.content)
    if response.status_code >= 400:
        _refuse(ex, f"Provider {ex.provider} answered HTTP {response.status_code}")
        return
    try:
        answer = rules.parse_envelope(response.content.decode("utf-8"))
        rules.verify(answer.data_bytes, answer.signature, ex.provider_key)
        fields = rules.read_fields(answer)
    except (UnicodeDecodeError, RuleError) as exc:
        _refuse(ex, f"Provider {ex.provider}'s answer failed verification ({str(exc)[:120]})")
        return
    ex.success = fields.get("success") is True
    ex.message = str(fields.get("message") or ("success" if ex.success else "failed"))
    ex.answer_body = fields.body


def answer(ex: Exchange) -> str:
    """The envelope the consumer gets, signed by the bus (its body sealed for the consumer if the request was)."""
    key = bus_key()
    success = ex.refusal is None and ex.success
    message = ex.refusal or ex.message
    body = None if ex.refusal else ex.answer_body
    if ex.sealed and body is not None and ex.consumer_key is not None:
        body = rules.seal_body(body, ex.consumer_key, ex.format)
    data = rules.response_data(success, body, message, ex.request_id, fmt=ex.format)
    return rules.sign_data(data, key, root="esbresponse")


def masked(value: Any, fmt: str) -> str | None:
    """A body as the audit log keeps it: its size and digest, never its content."""
    if value is None:
        return None
    raw = (rules.serialise(value) if fmt == "json" else str(value)).encode("utf-8")
    return f"(hidden: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:12]})"


def settle(ex: Exchange) -> None:
    """The exchange's audit entry, in the request's transaction."""
    success = ex.refusal is None and ex.success
    audit.record(ex.kind, "esb_exchange", ex.request_id, institution=ex.consumer, after={
        "client_id": ex.client_id, "consumer": ex.consumer, "code": ex.code, "provider": ex.provider,
        "format": ex.format, "encrypted": ex.sealed, "user_id": "(hidden)" if ex.user_id else None,
        "outcome": "success" if success else ("refused" if ex.refusal else "failed"),
        "message": ex.refusal or ex.message, "provider_status": ex.provider_status,
        "request_body": masked(ex.body, ex.format), "answer_body": masked(ex.answer_body, ex.format),
        "request_bytes": ex.request_bytes, "answer_bytes": ex.answer_bytes})


# -- registry ----------------------------------------------------------------------------


def holdings(session: Any, institution: str) -> dict[str, int]:
    clients = session.scalar(select(func.count()).select_from(EsbClient).where(EsbClient.institution == institution))
    apis = session.scalar(select(func.count()).select_from(EsbApi).where(EsbApi.institution == institution))
    return {"ESB clients": clients or 0, "ESB API codes": apis or 0}


def fingerprint(public_key: str) -> str:
    """A short, stable name for a public key (what a person compares)."""
    der = base64.b64decode(public_key)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode("ascii").rstrip("=")[:16]
