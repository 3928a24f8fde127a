"""The protocol primitives against an independent reference built in this file from the
`cryptography` package's own primitives (not from egactl_esb.rules), and tampering."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from egactl.plugin.rules import RuleError
from egactl_esb import rules

CURVES = {"secp256k1": ec.SECP256K1(), "prime256v1": ec.SECP256R1()}

# Fixed keys: the same private scalar on both curves (valid on each).
FIXED_SCALAR = 0x1F2E3D4C5B6A79880123456789ABCDEF0FEDCBA98765432100112233445566


def fixed_key(curve: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(FIXED_SCALAR, CURVES[curve])


def ref_public_b64(key) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def ref_verify(public_b64: str, data: bytes, signature_b64: str) -> None:
    """The reference verifier: load SPKI DER, ECDSA-SHA256 over the bytes; raises if wrong."""
    key = serialization.load_der_public_key(base64.b64decode(public_b64))
    key.verify(base64.b64decode(signature_b64), data, ec.ECDSA(hashes.SHA256()))


def ref_encrypt(plaintext: bytes, recipient_public_b64: str) -> dict:
    """The reference encryptor, written from the protocol's description alone."""
    recipient = serialization.load_der_public_key(base64.b64decode(recipient_public_b64))
    eph = ec.generate_private_key(recipient.curve)
    shared = eph.exchange(ec.ECDH(), recipient)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\x00" * 32, info=b"aes-encryption").derive(shared)
    iv = bytes(range(12))
    sealed = AESGCM(key).encrypt(iv, plaintext, None)
    pem = eph.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"ephemeralKey": base64.b64encode(pem).decode(), "iv": base64.b64encode(iv).decode(),
            "encryptedData": base64.b64encode(sealed[-16:] + sealed[:-16]).decode()}


def ref_decrypt(payload: dict, private) -> bytes:
    eph = serialization.load_pem_public_key(base64.b64decode(payload["ephemeralKey"]))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\x00" * 32, info=b"aes-encryption").derive(
        private.exchange(ec.ECDH(), eph))
    blob = base64.b64decode(payload["encryptedData"])
    return AESGCM(key).decrypt(base64.b64decode(payload["iv"]), blob[16:] + blob[:16], None)


DATA = {"apiCode": "RITA-BIRTH-VERIFY", "esbBody": {"certificateNumber": "BC-2024-000123", "name": "Asha Mwajuma",
                                                     "place": "Dodoma — Makulu", "amount": 1500.5, "ok": True}}


@pytest.mark.parametrize("curve", CURVES)
def test_key_round_trip_is_base64_der_without_armour(curve):
    key = fixed_key(curve)
    private_b64 = rules.export_private(key)
    der = base64.b64decode(private_b64)
    assert "-----" not in private_b64 and der == key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert rules.export_public(key) == ref_public_b64(key)
    assert rules.import_private(private_b64).private_numbers() == key.private_numbers()
    assert rules.import_public(ref_public_b64(key)).public_numbers() == key.public_key().public_numbers()
    assert rules.curve_name(rules.import_private(private_b64)) == curve


@pytest.mark.parametrize("curve", CURVES)
def test_a_signature_by_a_fixed_key_verifies_with_the_reference(curve):
    envelope = rules.sign_json(DATA, fixed_key(curve))
    # The exact bytes signed: the compact serialisation of data, as it stands in the envelope.
    data_text = '{"apiCode":"RITA-BIRTH-VERIFY","esbBody":{"certificateNumber":"BC-2024-000123",' \
                '"name":"Asha Mwajuma","place":"Dodoma — Makulu","amount":1500.5,"ok":true}}'
    assert envelope.startswith('{"data":' + data_text + ',"signature":"')
    signature = json.loads(envelope)["signature"]
    ref_verify(ref_public_b64(fixed_key(curve)), data_text.encode("utf-8"), signature)
    # ...and a signature by the reference verifies with ours.
    ref_sig = base64.b64encode(fixed_key(curve).sign(data_text.encode(), ec.ECDSA(hashes.SHA256()))).decode()
    rules.verify(data_text.encode(), ref_sig, rules.import_public(ref_public_b64(fixed_key(curve))))


@pytest.mark.parametrize("curve", CURVES)
def test_xml_signature_is_over_the_data_element(curve):
    data = "<data><apiCode>RITA-BIRTH-VERIFY</apiCode><esbBody><n>BC-1</n></esbBody></data>"
    envelope = rules.sign_xml(data, fixed_key(curve))
    assert envelope.startswith("<esbrequest>" + data + "<signature>") and envelope.endswith("</signature></esbrequest>")
    signature = envelope.split("<signature>")[1].split("</signature>")[0]
    ref_verify(ref_public_b64(fixed_key(curve)), data.encode(), signature)
    parsed = rules.verify_envelope(envelope, rules.import_public(ref_public_b64(fixed_key(curve))))
    assert parsed.format == "xml" and parsed.data() == {"apiCode": "RITA-BIRTH-VERIFY", "esbBody": {"n": "BC-1"}}


def test_serialisation_is_byte_stable():
    text = rules.serialise(DATA)
    assert rules.serialise(json.loads(text)) == text
    assert " " not in text.replace("Asha Mwajuma", "").replace("Dodoma — Makulu", "")
    assert "—" in text  # UTF-8, not \\u escapes


def test_verification_is_over_data_exactly_as_received():
    """A peer's spacing and key order are kept: we verify the bytes it sent, not a re-serialisation."""
    key = fixed_key("prime256v1")
    data_text = '{ "esbBody" : {"b": 1, "a": 2},\n  "apiCode": "X" }'
    sig = base64.b64encode(key.sign(data_text.encode(), ec.ECDSA(hashes.SHA256()))).decode()
    received = '{\n  "signature": "' + sig + '",\n  "data": ' + data_text + "\n}"
    envelope = rules.verify_envelope(received, key.public_key())
    assert envelope.data_text == data_text and envelope.data() == {"esbBody": {"b": 1, "a": 2}, "apiCode": "X"}
    with pytest.raises(rules.VerificationError):  # the compact re-serialisation is not what was signed
        rules.verify(rules.serialise(envelope.data()).encode(), sig, key.public_key())


@pytest.mark.parametrize("curve", CURVES)
def test_one_byte_of_esbbody_changed_is_refused(curve):
    key = fixed_key(curve)
    envelope = rules.sign_json(DATA, key)
    tampered = envelope.replace("BC-2024-000123", "BC-2024-000124")
    assert tampered != envelope
    with pytest.raises(rules.VerificationError, match="INVALID"):
        rules.verify_envelope(tampered, key.public_key())
    xml = rules.sign_xml("<data><apiCode>A</apiCode><esbBody>100</esbBody></data>", key)
    with pytest.raises(rules.VerificationError):
        rules.verify_envelope(xml.replace("<esbBody>100<", "<esbBody>900<"), key.public_key())


def test_another_key_and_a_wrong_curve_are_refused():
    envelope = rules.sign_json(DATA, fixed_key("secp256k1"))
    other = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(rules.VerificationError):
        rules.verify_envelope(envelope, other.public_key())
    with pytest.raises(rules.VerificationError):  # the same scalar on the other curve
        rules.verify_envelope(envelope, fixed_key("prime256v1").public_key())
    with pytest.raises(InvalidSignature):  # the reference agrees
        ref_verify(ref_public_b64(fixed_key("prime256v1")), rules.parse_envelope(envelope).data_bytes,
                   json.loads(envelope)["signature"])


@pytest.mark.parametrize("curve", CURVES)
def test_a_payload_encrypted_by_the_reference_decrypts(curve):
    key = fixed_key(curve)
    payload = ref_encrypt("{\"nida\":\"19900101-12345-00001-23\"}".encode(), ref_public_b64(key))
    assert rules.decrypt(payload, rules.import_private(rules.export_private(key))) == b'{"nida":"19900101-12345-00001-23"}'


@pytest.mark.parametrize("curve", CURVES)
def test_a_payload_we_encrypt_decrypts_with_the_reference(curve):
    key = fixed_key(curve)
    payload = rules.encrypt(b"hello esb", key.public_key())
    assert set(payload) == {"ephemeralKey", "iv", "encryptedData"}
    assert base64.b64decode(payload["ephemeralKey"]).startswith(b"-----BEGIN PUBLIC KEY-----")
    assert len(base64.b64decode(payload["iv"])) == 12
    assert len(base64.b64decode(payload["encryptedData"])) == 16 + len(b"hello esb")
    assert ref_decrypt(payload, key) == b"hello esb"


def test_fixed_ephemeral_key_and_iv_give_the_reference_answer():
    """Known answer: with the ephemeral key and IV fixed, our bytes equal the reference's."""
    recipient = fixed_key("prime256v1")
    eph = ec.derive_private_key(12345678901234567890, ec.SECP256R1())
    iv = bytes(range(12))
    ours = rules.encrypt(b"known answer", recipient.public_key(), ephemeral=eph, iv=iv)
    shared = eph.exchange(ec.ECDH(), recipient.public_key())
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=bytes(32), info=b"aes-encryption").derive(shared)
    sealed = AESGCM(key).encrypt(iv, b"known answer", None)
    assert base64.b64decode(ours["encryptedData"]) == sealed[-16:] + sealed[:-16]


def test_tampered_or_misdirected_payloads_are_refused():
    key = fixed_key("secp256k1")
    payload = rules.encrypt(b"secret", key.public_key())
    blob = bytearray(base64.b64decode(payload["encryptedData"]))
    blob[-1] ^= 1
    with pytest.raises(rules.VerificationError, match="altered"):
        rules.decrypt({**payload, "encryptedData": base64.b64encode(bytes(blob)).decode()}, key)
    with pytest.raises(rules.VerificationError, match="another key"):
        rules.decrypt(payload, ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(rules.VerificationError, match="secp256k1 key, and the private key given is prime256v1"):
        rules.decrypt(payload, fixed_key("prime256v1"))


def test_bad_keys_say_what_is_wrong():
    with pytest.raises(RuleError, match="PEM"):
        rules.import_public("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----")
    with pytest.raises(RuleError, match="not base64"):
        rules.import_private("not base64!")
    p384 = ec.generate_private_key(ec.SECP384R1())
    der = p384.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(RuleError, match="secp384r1; GovESB keys are on secp256k1 or prime256v1"):
        rules.import_public(base64.b64encode(der))
    with pytest.raises(RuleError, match="curve 'p521' must be one of"):
        rules.generate_key("p521")


@pytest.mark.parametrize("text, problem", [
    ('{"data": {"a": 1}}', '"data" and "signature"'),
    ('{"data": {}, "data": {}, "signature": "x"}', "twice"),
    ('{"data": {"a": 1}, "signature": 5}', "must be a string"),
    ("[1]", "JSON object"),
    ("{nope", "not valid"),
    ("<esbrequest><data/></esbrequest>", "<esbrequest><data>"),
    ('<!DOCTYPE x [<!ENTITY a "b">]><x/>', "DOCTYPE"),
    ("hello", "neither a JSON object"),
])
def test_malformed_envelopes_are_refused_with_a_reason(text, problem):
    with pytest.raises(RuleError, match=problem.replace("[", "\\[")) as info:
        rules.parse_envelope(text)
    assert not isinstance(info.value, rules.VerificationError)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_compact_serialisation_is_byte_stable(value):
    """What egactl produces survives a peer's parse and compact re-serialisation byte for byte."""
    text = rules.serialise(value)
    assert rules.serialise(json.loads(text)) == text


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4))
def test_any_signed_data_verifies_over_the_envelope_as_received(data):
    key = fixed_key("secp256k1")
    envelope = rules.sign_json(data, key)
    parsed = rules.verify_envelope(envelope, key.public_key())
    assert parsed.data() == data and parsed.data_text == rules.serialise(data)
