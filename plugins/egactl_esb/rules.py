"""GovESB's protocol primitives, pure (no I/O): keys, signatures, envelopes and
payload encryption, exactly as the public GovESB connectors implement them.

- **Keys** are elliptic-curve pairs on ``secp256k1`` or ``prime256v1`` (P-256),
  exchanged as base64 of DER without PEM armour: the private key PKCS#8, the
  public key X.509 SubjectPublicKeyInfo. The curve is always taken from the key.
- **Signatures** are SHA256withECDSA, base64 of the DER signature, over the
  UTF-8 bytes of the serialised ``data`` exactly as sent.
- **Envelopes**: JSON ``{"data": {...}, "signature": "..."}`` or XML
  ``<esbrequest><data>…</data><signature>…</signature></esbrequest>``. A received
  envelope is verified over the bytes of ``data`` as received (never re-serialised);
  what egactl produces is compact JSON (:func:`serialise`) whose serialisation is
  byte-stable, so a peer that parses and re-serialises it gets the same bytes.
- **Payload encryption**: ECDH between an ephemeral key and the recipient's public
  key (same curve), HKDF-SHA256 (salt 32 zero bytes, info ``aes-encryption``,
  32-byte key), AES-256-GCM with a 12-byte IV; the JSON carries ``ephemeralKey``
  (base64 of the ephemeral public key's PEM text), ``iv`` (base64) and
  ``encryptedData`` (base64 of the 16-byte tag followed by the ciphertext).

Every problem with the input is a ``RuleError`` (the one line a user reads); a
signature or a ciphertext that does not verify is a :class:`VerificationError`,
which the commands answer with their own exit code.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from egactl.plugin.rules import RuleError

CURVES: dict[str, type[ec.EllipticCurve]] = {"secp256k1": ec.SECP256K1, "prime256v1": ec.SECP256R1}
"""The curves GovESB uses, by their OpenSSL names (prime256v1 is P-256, secp256r1)."""
_CURVE_NAMES = {"secp256k1": "secp256k1", "secp256r1": "prime256v1"}

HKDF_SALT = bytes(32)
HKDF_INFO = b"aes-encryption"
IV_BYTES = 12
TAG_BYTES = 16
ENCRYPTED_FIELDS = ("ephemeralKey", "iv", "encryptedData")


class VerificationError(RuleError):
    """A signature or an encrypted payload that does not verify: altered, or another key."""


# -- keys ------------------------------------------------------------------------------


def check_curve(name: str) -> str | None:
    if name not in CURVES:
        return f"curve {name!r} must be one of: {', '.join(CURVES)}"
    return None


def curve_name(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The key's curve by its OpenSSL name; a RuleError for a curve GovESB does not use."""
    name = _CURVE_NAMES.get(key.curve.name)
    if name is None:
        raise RuleError(f"the key is on curve {key.curve.name}; GovESB keys are on {' or '.join(CURVES)}")
    return name


def generate_key(curve: str = "secp256k1") -> ec.EllipticCurvePrivateKey:
    problem = check_curve(curve)
    if problem:
        raise RuleError(problem)
    return ec.generate_private_key(CURVES[curve]())


def export_private(key: ec.EllipticCurvePrivateKey) -> str:
    """base64 of the PKCS#8 DER, no PEM armour."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return base64.b64encode(der).decode("ascii")


def export_public(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> str:
    """base64 of the SubjectPublicKeyInfo DER, no PEM armour."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def _der(text: str | bytes, what: str) -> bytes:
    raw = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    compact = re.sub(r"\s+", "", raw)
    if "-----BEGIN" in raw:
        raise RuleError(f"the {what} key is PEM; GovESB keys are base64 of DER without the -----BEGIN armour")
    if not compact:
        raise RuleError(f"the {what} key is empty")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise RuleError(f"the {what} key is not base64") from None


def import_private(text: str | bytes) -> ec.EllipticCurvePrivateKey:
    """A private key from base64 of PKCS#8 DER; on secp256k1 or prime256v1."""
    der = _der(text, "private")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise RuleError("the private key is not a PKCS#8 DER key (base64, unencrypted)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise RuleError("the private key is not an elliptic-curve key; GovESB keys are EC")
    curve_name(key)
    return key


def import_public(text: str | bytes) -> ec.EllipticCurvePublicKey:
    """A public key from base64 of SubjectPublicKeyInfo DER; on secp256k1 or prime256v1."""
    der = _der(text, "public")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise RuleError("the public key is not a SubjectPublicKeyInfo DER key (base64)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise RuleError("the public key is not an elliptic-curve key; GovESB keys are EC")
    curve_name(key)
    return key


# -- signatures ------------------------------------------------------------------------


def sign(data: bytes, key: ec.EllipticCurvePrivateKey) -> str:
    """SHA256withECDSA over ``data``: base64 of the DER signature."""
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode("ascii")


def verify(data: bytes, signature: str, key: ec.EllipticCurvePublicKey) -> None:
    """Raise VerificationError unless ``signature`` is ``key``'s over exactly ``data``."""
    try:
        der = base64.b64decode(re.sub(r"\s+", "", signature), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("signature: INVALID (the signature is not base64)") from None
    try:
        key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VerificationError(f"signature: INVALID (not made over this data by the {curve_name(key)} key given; "
                                "the data was altered or another key signed it)") from None


# -- serialisation and envelopes ---------------------------------------------------------


def serialise(value: Any) -> str:
    """Compact JSON, keys in the order given, non-ASCII kept as UTF-8.

    Byte-stable: ``serialise(json.loads(serialise(v))) == serialise(v)``, so a peer
    that parses and re-serialises compactly (Jackson, Gson, JSON.stringify) signs or
    verifies the same bytes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class Envelope:
    """A parsed envelope: ``data_text`` is the data exactly as it appears (what is signed)."""

    format: str  # "json" or "xml"
    data_text: str
    signature: str
    root: str = ""  # the XML root element's name (esbrequest, esbresponse)

    @property
    def data_bytes(self) -> bytes:
        return self.data_text.encode("utf-8")

    def data(self) -> Any:
        """The data, parsed: a JSON value, or for XML a dict of the children's text."""
        if self.format == "json":
            return json.loads(self.data_text)
        element = ET.fromstring(self.data_text)
        return {child.tag: _xml_value(child) for child in element}


def _xml_value(element: ET.Element) -> Any:
    if len(element):
        return {child.tag: _xml_value(child) for child in element}
    return element.text or ""


def detect_format(text: str) -> str:
    start = text.lstrip("\ufeff \t\r\n")[:1]
    if start == "{":
        return "json"
    if start == "<":
        return "xml"
    raise RuleError("the input is neither a JSON object (starting with '{') nor XML (starting with '<')")


def check_data(value: Any) -> str | None:
    """The data of a request envelope is a JSON object."""
    if not isinstance(value, dict):
        return "the data to sign must be a JSON object, e.g. {\"apiCode\": \"...\", \"esbBody\": {...}}"
    return None


def sign_json(data: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    """``{"data":…,"signature":…}``, compact, signed over the compact ``data``."""
    problem = check_data(data)
    if problem:
        raise RuleError(problem)
    data_text = serialise(data)
    return '{"data":' + data_text + ',"signature":' + json.dumps(sign(data_text.encode("utf-8"), key)) + "}"


_XML_DECL = re.compile(r"^\s*(<\?xml[^>]*\?>)?\s*")


def sign_xml(data_element: str, key: ec.EllipticCurvePrivateKey, root: str = "esbrequest") -> str:
    """``<esbrequest><data>…</data><signature>…</signature></esbrequest>``, signed over the
    ``<data>`` element's text exactly as given."""
    text = _XML_DECL.sub("", data_element, count=1).strip()
    _parse_xml(text)
    if not (text.startswith("<data>") or text.startswith("<data ")) or not text.endswith("</data>"):
        raise RuleError("the XML to sign must be one <data>…</data> element")
    return f"<{root}>{text}<signature>{sign(text.encode('utf-8'), key)}</signature></{root}>"


def _parse_xml(text: str) -> ET.Element:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise RuleError("the XML declares a DOCTYPE or entities, which an envelope never has")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise RuleError(f"the XML is not well-formed ({exc})") from None


def parse_envelope(text: str) -> Envelope:
    """An envelope, JSON or XML, with its ``data`` exactly as it appears in ``text``."""
    return parse_json_envelope(text) if detect_format(text) == "json" else parse_xml_envelope(text)


_WS = re.compile(r"[ \t\n\r]*")


def parse_json_envelope(text: str) -> Envelope:
    """Walk the top-level object, keeping the raw text of ``data`` (what was signed)."""
    text = text.lstrip("\ufeff")
    decoder = json.JSONDecoder()
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleError(f"the JSON is not valid (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    pos = _WS.match(text, 0).end()
    if text[pos:pos + 1] != "{":
        raise RuleError('the envelope must be a JSON object {"data": ..., "signature": ...}')
    pos += 1
    fields: dict[str, tuple[Any, str]] = {}
    while True:
        pos = _WS.match(text, pos).end()
        if text[pos] == "}":
            break
        key, pos = json.decoder.scanstring(text, pos + 1)
        pos = _WS.match(text, pos).end() + 1  # the colon
        pos = _WS.match(text, pos).end()
        value, end = decoder.raw_decode(text, pos)
        if key in fields:
            raise RuleError(f'the envelope has "{key}" twice')
        fields[key] = (value, text[pos:end])
        pos = _WS.match(text, end).end()
        if text[pos] == ",":
            pos += 1
    if "data" not in fields or "signature" not in fields:
        raise RuleError('the envelope must have "data" and "signature"')
    signature = fields["signature"][0]
    if not isinstance(signature, str):
        raise RuleError('the envelope\'s "signature" must be a string')
    return Envelope("json", fields["data"][1], signature)


_XML_ENVELOPE = re.compile(r"^<(?P<root>[A-Za-z_][\w.-]*)>(?P<data>.*)<signature>(?P<sig>[^<]*)</signature>"
                           r"\s*</(?P=root)>$", re.S)


def parse_xml_envelope(text: str) -> Envelope:
    """``<esbrequest><data>…</data><signature>…</signature></esbrequest>`` (any root name)."""
    body = _XML_DECL.sub("", text.lstrip("\ufeff"), count=1).strip()
    root = _parse_xml(body)
    match = _XML_ENVELOPE.match(body)
    children = [child.tag for child in root]
    if match is None or children != ["data", "signature"]:
        raise RuleError("the XML envelope must be <esbrequest><data>…</data><signature>…</signature></esbrequest>")
    data_text = match.group("data").strip()
    return Envelope("xml", data_text, match.group("sig").strip(), match.group("root"))


def verify_envelope(text: str, key: ec.EllipticCurvePublicKey) -> Envelope:
    envelope = parse_envelope(text)
    verify(envelope.data_bytes, envelope.signature, key)
    return envelope


# -- payload encryption ------------------------------------------------------------------


def _aes_key(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=HKDF_INFO).derive(shared)


def encrypt(plaintext: bytes, recipient: ec.EllipticCurvePublicKey, *, ephemeral: ec.EllipticCurvePrivateKey | None = None,
            iv: bytes | None = None) -> dict[str, str]:
    """The encrypted payload for ``recipient`` (``ephemeral`` and ``iv`` only for known-answer tests)."""
    curve = curve_name(recipient)
    ephemeral = ephemeral or ec.generate_private_key(CURVES[curve]())
    if curve_name(ephemeral) != curve:
        raise RuleError("the ephemeral key must be on the recipient's curve")
    iv = os.urandom(IV_BYTES) if iv is None else iv
    if len(iv) != IV_BYTES:
        raise RuleError(f"the IV must be {IV_BYTES} bytes")
    sealed = AESGCM(_aes_key(ephemeral.exchange(ec.ECDH(), recipient))).encrypt(iv, plaintext, None)
    ciphertext, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    pem = ephemeral.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"ephemeralKey": base64.b64encode(pem).decode("ascii"), "iv": base64.b64encode(iv).decode("ascii"),
            "encryptedData": base64.b64encode(tag + ciphertext).decode("ascii")}


def parse_encrypted(value: Any) -> dict[str, bytes]:
    """The three fields of an encrypted payload, decoded."""
    if not isinstance(value, dict) or any(not isinstance(value.get(f), str) for f in ENCRYPTED_FIELDS):
        raise RuleError("an encrypted payload is a JSON object with the strings ephemeralKey, iv and encryptedData")
    decoded = {}
    for field in ENCRYPTED_FIELDS:
        try:
            decoded[field] = base64.b64decode(re.sub(r"\s+", "", value[field]), validate=True)
        except (binascii.Error, ValueError):
            raise RuleError(f"{field} is not base64") from None
    if len(decoded["iv"]) != IV_BYTES:
        raise RuleError(f"iv must be {IV_BYTES} bytes, not {len(decoded['iv'])}")
    if len(decoded["encryptedData"]) < TAG_BYTES:
        raise RuleError(f"encryptedData is shorter than the {TAG_BYTES}-byte tag")
    return decoded


def decrypt(value: Any, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The plaintext of an encrypted payload; VerificationError if altered or for another key."""
    parts = parse_encrypted(value)
    try:
        ephemeral = serialization.load_pem_public_key(parts["ephemeralKey"])
    except (ValueError, UnsupportedAlgorithm):
        raise RuleError("ephemeralKey is not base64 of a PEM public key") from None
    if not isinstance(ephemeral, ec.EllipticCurvePublicKey):
        raise RuleError("ephemeralKey is not an elliptic-curve key")
    theirs, ours = curve_name(ephemeral), curve_name(key)
    if theirs != ours:
        raise VerificationError(f"the payload was encrypted for a {theirs} key, and the private key given is {ours}")
    sealed = parts["encryptedData"]
    tag, ciphertext = sealed[:TAG_BYTES], sealed[TAG_BYTES:]
    try:
        return AESGCM(_aes_key(key.exchange(ec.ECDH(), ephemeral))).decrypt(parts["iv"], ciphertext + tag, None)
    except InvalidTag:
        raise VerificationError("the payload did not decrypt: it was altered, or encrypted for another key") from None


# -- the bus's exchanges: requests, answers, registry values ------------------------------

KINDS: dict[str, tuple[str, str]] = {"request": ("apiCode", "/request"), "push": ("pushCode", "/push-request"),
                                     "nida": ("apiCode", "/nida-request")}
"""Each kind of exchange: the data's code field and the engine's path."""
FORMATS = ("json", "xml")


def check_api_code(value: str) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,63}", value):
        return f"API code {value!r} must be 2-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


def check_client_id(value: str) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{2,63}", value):
        return f"client id {value!r} must be 3-64 lowercase letters, digits, '.', '_' or '-'"
    return None


def check_user_id(value: str) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", value):
        return f"user id {value!r} must be 1-64 letters, digits, '.', '_', '@' or '-'"
    return None


def check_format(value: str) -> str | None:
    return None if value in FORMATS else f"format {value!r} must be json or xml"


def check_endpoint(value: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a port that is not a number raises
    except (ValueError, TypeError, AttributeError):
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 500 \
            or any(c in value for c in " \t\r\n"):
        return f"endpoint {str(value)[:80]!r} must be an http:// or https:// URL (at most 500 characters)"
    return None


def check_public_key(value: str) -> str | None:
    try:
        import_public(value)
    except RuleError as exc:
        return str(exc)
    return None


def _xml_text(value: Any) -> str:
    from xml.sax.saxutils import escape

    return escape("" if value is None else str(value))


def _check_fragment(fragment: str) -> str:
    fragment = _XML_DECL.sub("", fragment.lstrip("\ufeff"), count=1).strip()
    _parse_xml(f"<esbBody>{fragment}</esbBody>")
    return fragment


def request_data(kind: str, code: str, body: Any, *, fmt: str = "json", user_id: str | None = None,
                 request_id: str | None = None) -> Any:
    """The data of a request: a dict (JSON) or the ``<data>`` element's text (XML), ``body``
    being a JSON value or, for XML, the ``<esbBody>`` element's content."""
    field = KINDS[kind][0]
    if fmt == "json":
        data: dict[str, Any] = {field: code}
        if request_id is not None:
            data["requestId"] = request_id
        if user_id is not None:
            data["userId"] = user_id
        data["esbBody"] = body
        return data
    parts = [f"<{field}>{_xml_text(code)}</{field}>"]
    if request_id is not None:
        parts.append(f"<requestId>{_xml_text(request_id)}</requestId>")
    if user_id is not None:
        parts.append(f"<userId>{_xml_text(user_id)}</userId>")
    parts.append(f"<esbBody>{_check_fragment(body or '')}</esbBody>")
    return "<data>" + "".join(parts) + "</data>"


def sign_data(data: Any, key: ec.EllipticCurvePrivateKey, *, root: str) -> str:
    """An envelope of ``data`` (a dict: JSON; a ``<data>`` text: XML under ``root``)."""
    return sign_json(data, key) if isinstance(data, dict) else sign_xml(data, key, root=root)


def response_data(success: bool, body: Any, message: str, request_id: str, *, fmt: str = "json") -> Any:
    if fmt == "json":
        return {"success": success, "requestId": request_id, "message": message, "esbBody": body}
    return ("<data>" f"<success>{'true' if success else 'false'}</success><requestId>{_xml_text(request_id)}</requestId>"
            f"<message>{_xml_text(message)}</message><esbBody>{_check_fragment(body or '')}</esbBody></data>")


def _inner_xml(element: ET.Element) -> str:
    return (element.text or "") + "".join(ET.tostring(child, encoding="unicode") for child in element)


@dataclass(frozen=True)
class Fields:
    """What a request or an answer says: its code (requests), body, and the rest as text."""

    format: str
    values: dict[str, Any]
    body: Any  # a JSON value, or the XML content of <esbBody>

    def get(self, name: str) -> Any:
        return self.values.get(name)


def read_fields(envelope: Envelope) -> Fields:
    """The fields of an envelope's data (a request's or an answer's)."""
    if envelope.format == "json":
        data = envelope.data()
        if not isinstance(data, dict):
            raise RuleError("the envelope's data must be a JSON object")
        return Fields("json", {k: v for k, v in data.items() if k != "esbBody"}, data.get("esbBody"))
    element = _parse_xml(envelope.data_text)
    values: dict[str, Any] = {}
    body: Any = None
    for child in element:
        if child.tag == "esbBody":
            body = _inner_xml(child).strip()
        else:
            values[child.tag] = (child.text or "").strip()
    if "success" in values:
        values["success"] = values["success"].lower() == "true"
    return Fields("xml", values, body)


def is_sealed(body: Any, fmt: str) -> bool:
    """Is this body an encrypted payload ({ephemeralKey, iv, encryptedData})?"""
    if fmt == "json":
        return isinstance(body, dict) and set(body) == set(ENCRYPTED_FIELDS)
    if not isinstance(body, str) or "<encryptedData>" not in body:
        return False
    element = _parse_xml(f"<esbBody>{body}</esbBody>")
    return sorted(child.tag for child in element) == sorted(ENCRYPTED_FIELDS)


def seal_body(body: Any, recipient: ec.EllipticCurvePublicKey, fmt: str) -> Any:
    """The body encrypted for ``recipient``: JSON's compact serialisation, or XML's text, as plaintext."""
    plaintext = (serialise(body) if fmt == "json" else (body or "")).encode("utf-8")
    sealed = encrypt(plaintext, recipient)
    if fmt == "json":
        return sealed
    return "".join(f"<{f}>{sealed[f]}</{f}>" for f in ENCRYPTED_FIELDS)


def open_body(body: Any, key: ec.EllipticCurvePrivateKey, fmt: str) -> Any:
    """The plaintext body of a sealed one (VerificationError when it does not decrypt)."""
    if fmt == "json":
        plaintext = decrypt(body, key)
        try:
            return json.loads(plaintext)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RuleError("the decrypted body is not JSON") from None
    element = _parse_xml(f"<esbBody>{body}</esbBody>")
    plaintext = decrypt({child.tag: (child.text or "") for child in element}, key)
    try:
        return _check_fragment(plaintext.decode("utf-8"))
    except UnicodeDecodeError:
        raise RuleError("the decrypted body is not UTF-8 XML") from None
