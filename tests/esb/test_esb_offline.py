"""egactl esb keygen / sign / verify / encrypt / decrypt, driven as a user runs them."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

CURVES = ("secp256k1", "prime256v1")
REQUEST = {"apiCode": "RITA-BIRTH-VERIFY", "esbBody": {"certificateNumber": "BC-2024-000123", "name": "Asha"}}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def keygen(cli, out: str, curve: str = "secp256k1"):
    r = cli("esb", "keygen", "--curve", curve, "--out", out, "-o", "json")
    assert r.exit_code == 0, r.stderr
    return r.json()


@pytest.mark.parametrize("curve", CURVES)
def test_keygen_writes_a_private_key_only_its_owner_reads(cli, here, curve):
    r = cli("esb", "keygen", "--curve", curve, "--out", "keys")
    assert r.exit_code == 0, r.stderr
    private, public = here / "keys" / "esb-private.key", here / "keys" / "esb-public.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert f"Wrote a {curve} key pair: keys/esb-private.key (readable only by you)" in r.stderr
    public_b64 = public.read_text().strip()
    assert public_b64 in r.stdout and "-----BEGIN" not in public_b64
    key = serialization.load_der_private_key(base64.b64decode(private.read_text()), None)
    assert key.curve.name == {"secp256k1": "secp256k1", "prime256v1": "secp256r1"}[curve]
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64decode(public_b64) == spki


def test_keygen_never_overwrites_a_key(cli, here):
    first = keygen(cli, "keys")
    before = (here / "keys" / "esb-private.key").read_bytes()
    r = cli("esb", "keygen", "--out", "keys")
    assert r.exit_code == 5
    assert r.stderr.strip() == ("error: keys/esb-private.key already exists; nothing was written; "
                                "choose another --out, or move the old key away first")
    assert (here / "keys" / "esb-private.key").read_bytes() == before and first["public_key"]
    r = cli("esb", "keygen", "--curve", "p384", "--out", "other")
    assert r.exit_code == 2 and "--curve: curve 'p384' must be one of: secp256k1, prime256v1" in r.stderr
    assert not (here / "other").exists()


@pytest.mark.parametrize("curve", CURVES)
def test_sign_then_verify_json(cli, here, curve):
    keygen(cli, "keys", curve)
    (here / "request.json").write_text(json.dumps(REQUEST, indent=2))
    r = cli("esb", "sign", "request.json", "--key", "keys/esb-private.key")
    assert r.exit_code == 0, r.stderr
    envelope = json.loads(r.stdout)
    assert envelope["data"] == REQUEST and list(envelope) == ["data", "signature"]
    # An independent verifier: the compact data, as it stands in the envelope, under the public key.
    public = serialization.load_der_public_key(base64.b64decode((here / "keys" / "esb-public.key").read_text()))
    data_text = json.dumps(REQUEST, separators=(",", ":"))
    assert r.stdout.startswith('{"data":' + data_text)
    public.verify(base64.b64decode(envelope["signature"]), data_text.encode(), ec.ECDSA(hashes.SHA256()))
    (here / "envelope.json").write_text(r.stdout)
    r = cli("esb", "verify", "envelope.json", "--key", "keys/esb-public.key")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"signature: valid ({curve} key, JSON envelope)"
    r = cli("esb", "verify", "envelope.json", "--key", "keys/esb-public.key", "-o", "json")
    assert r.json() == {"signature": "valid", "format": "json", "curve": curve, "data": REQUEST}


@pytest.mark.parametrize("curve", CURVES)
def test_sign_then_verify_xml(cli, here, curve):
    keygen(cli, "keys", curve)
    data = "<data><apiCode>RITA-BIRTH-VERIFY</apiCode><esbBody><n>BC-1</n></esbBody></data>"
    (here / "request.xml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + data + "\n")
    r = cli("esb", "sign", "request.xml", "--key", "keys/esb-private.key")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("<esbrequest>" + data + "<signature>")
    (here / "envelope.xml").write_text(r.stdout)
    r = cli("esb", "verify", "envelope.xml", "--key", "keys/esb-public.key", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"] == {"apiCode": "RITA-BIRTH-VERIFY", "esbBody": {"n": "BC-1"}}
    assert r.json()["root"] == "esbrequest"
    (here / "tampered.xml").write_text(r.stdout and (here / "envelope.xml").read_text().replace("BC-1", "BC-2"))
    r = cli("esb", "verify", "tampered.xml", "--key", "keys/esb-public.key")
    assert r.exit_code == 8 and r.stdout == ""
    assert r.stderr.startswith("error: tampered.xml: signature: INVALID") and len(r.stderr.splitlines()) == 1


def test_a_bad_signature_is_exit_8_with_one_line(cli, here):
    keygen(cli, "keys", "secp256k1")
    keygen(cli, "other", "secp256k1")
    keygen(cli, "p256", "prime256v1")
    (here / "request.json").write_text(json.dumps(REQUEST))
    envelope = cli("esb", "sign", "request.json", "--key", "keys/esb-private.key").stdout
    (here / "tampered.json").write_text(envelope.replace("BC-2024-000123", "BC-2024-000124"))
    (here / "envelope.json").write_text(envelope)
    cases = [("tampered.json", "keys"), ("envelope.json", "other"), ("envelope.json", "p256")]
    for file, keys in cases:
        r = cli("esb", "verify", file, "--key", f"{keys}/esb-public.key")
        assert r.exit_code == 8, (file, keys, r.stderr)
        assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
        assert "signature: INVALID" in r.stderr and "the data was altered or another key signed it" in r.stderr
    r = cli("esb", "verify", "tampered.json", "--key", "keys/esb-public.key", "-o", "json")
    assert r.exit_code == 8 and r.stdout == ""
    error = json.loads(r.stderr)
    assert error["exit_code"] == 8 and error["error"] == "failure" and "INVALID" in error["message"]


def test_bad_input_is_a_usage_error(cli, here):
    keygen(cli, "keys")
    (here / "notes.txt").write_text("hello")
    (here / "half.json").write_text('{"data": {"a": 1}}')
    (here / "pem.key").write_text("-----BEGIN PUBLIC KEY-----\nMFYw\n-----END PUBLIC KEY-----\n")
    cases = [
        (("verify", "notes.txt", "--key", "keys/esb-public.key"), 2, "notes.txt: the input is neither a JSON object"),
        (("verify", "half.json", "--key", "keys/esb-public.key"), 2, 'half.json: the envelope must have "data" and "signature"'),
        (("verify", "half.json", "--key", "pem.key"), 2, "--key pem.key: the public key is PEM"),
        (("verify", "half.json", "--key", "keys/esb-private.key"), 2, "--key keys/esb-private.key: the public key is not"),
        (("verify", "nope.json", "--key", "keys/esb-public.key"), 3, "nope.json: no such file"),
        (("sign", "half.json", "--key", "keys/esb-public.key"), 2, "--key keys/esb-public.key: the private key is not"),
    ]
    for args, code, message in cases:
        r = cli("esb", *args)
        assert r.exit_code == code, (args, r.stderr)
        assert r.stderr.startswith(f"error: {message}"), (args, r.stderr)
        assert r.stdout == ""


@pytest.mark.parametrize("curve", CURVES)
def test_encrypt_then_decrypt(cli, here, curve):
    keygen(cli, "keys", curve)
    body = '{"nin": "19900101-12345-00001-23", "name": "Asha Mwajuma"}'
    (here / "body.json").write_text(body)
    r = cli("esb", "encrypt", "body.json", "--key", "keys/esb-public.key")
    assert r.exit_code == 0, r.stderr
    payload = json.loads(r.stdout)
    assert set(payload) == {"ephemeralKey", "iv", "encryptedData"} and "Asha" not in r.stdout
    (here / "body.enc.json").write_text(r.stdout)
    r = cli("esb", "decrypt", "body.enc.json", "--key", "keys/esb-private.key")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == body + "\n"
    # Inside an envelope's esbBody, as it travels.
    (here / "envelope.json").write_text(json.dumps({"data": {"success": True, "esbBody": payload}, "signature": "x"}))
    assert cli("esb", "decrypt", "envelope.json", "--key", "keys/esb-private.key").stdout == body + "\n"


def test_decrypt_refuses_altered_or_misdirected_payloads(cli, here):
    keygen(cli, "keys")
    keygen(cli, "other")
    keygen(cli, "p256", "prime256v1")
    (here / "body.json").write_text("secret")
    payload = json.loads(cli("esb", "encrypt", "body.json", "--key", "keys/esb-public.key").stdout)
    blob = bytearray(base64.b64decode(payload["encryptedData"]))
    blob[20] ^= 0x01
    (here / "altered.json").write_text(json.dumps({**payload, "encryptedData": base64.b64encode(bytes(blob)).decode()}))
    (here / "good.json").write_text(json.dumps(payload))
    for file, keys, message in [("altered.json", "keys", "it was altered, or encrypted for another key"),
                                ("good.json", "other", "it was altered, or encrypted for another key"),
                                ("good.json", "p256", "encrypted for a secp256k1 key, and the private key given is prime256v1")]:
        r = cli("esb", "decrypt", file, "--key", f"{keys}/esb-private.key")
        assert r.exit_code == 8, (file, keys, r.stderr)
        assert r.stdout == "" and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (here / "plain.json").write_text('{"iv": "AAAA"}')
    r = cli("esb", "decrypt", "plain.json", "--key", "keys/esb-private.key")
    assert r.exit_code == 2 and "plain.json: an encrypted payload is a JSON object with the strings" in r.stderr


def test_standard_input_in_a_real_process(tmp_path):
    """`-` reads standard input; the real executable, as a script pipes into it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update({"EGACTL_CONFIG_DIR": str(tmp_path / "config"), "EGACTL_DATA_DIR": str(tmp_path / "data"),
                "EGACTL_CREDENTIAL_STORE": "file", "EGACTL_NO_PROGRESS": "1"})

    def run(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "egactl", "esb", *args], input=stdin, capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=120)

    assert run("keygen", "--out", "keys").returncode == 0
    signed = run("sign", "-", "--key", "keys/esb-private.key", stdin=json.dumps(REQUEST))
    assert signed.returncode == 0, signed.stderr
    ok = run("verify", "-", "--key", "keys/esb-public.key", stdin=signed.stdout)
    assert ok.returncode == 0 and ok.stdout.startswith("signature: valid (secp256k1 key, JSON envelope)")
    bad = run("verify", "-", "--key", "keys/esb-public.key", stdin=signed.stdout.replace("Asha", "Asha!"))
    assert bad.returncode == 8 and bad.stderr.startswith("error: standard input: signature: INVALID")
    assert "sandbox" not in ok.stderr + bad.stderr  # offline: nothing opens the sandbox
    assert not Path(tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.db"))


@pytest.mark.parametrize("root", ["esbresponse", "esbrequest"])
def test_xml_root_is_kept_and_named(cli, here, root):
    keygen(cli, "keys", "prime256v1")
    (here / "data.xml").write_text("<data><success>true</success><esbBody>ok</esbBody></data>")
    r = cli("esb", "sign", "data.xml", "--key", "keys/esb-private.key", "--root", root)
    assert r.exit_code == 0 and r.stdout.startswith(f"<{root}><data>") and r.stdout.rstrip().endswith(f"</{root}>")
    (here / "env.xml").write_text(r.stdout)
    r = cli("esb", "verify", "env.xml", "--key", "keys/esb-public.key")
    assert r.stdout.splitlines()[0] == f"signature: valid (prime256v1 key, XML envelope <{root}>)"
    r = cli("esb", "sign", "data.xml", "--key", "keys/esb-private.key", "--root", "not a name")
    assert r.exit_code == 2 and r.stderr.strip() == "error: --root: 'not a name' is not an XML element name"


def test_help_imports_no_cryptography(tmp_path):
    """`egactl esb --help` and a leaf's help stay light: the primitives load when a command runs."""
    for args in (["esb", "--help"], ["esb", "verify", "--help"]):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "egactl", *args], capture_output=True,
                           text=True, timeout=120, env=dict(os.environ, EGACTL_CONFIG_DIR=str(tmp_path)))
        assert r.returncode == 0, r.stderr[-2000:]
        modules = {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines()
                   if line.startswith("import time:") and "|" in line}
        assert "egactl_esb.commands.envelopes" in modules
        assert not {m for m in modules if m.split(".")[0] == "cryptography"}
        assert "egactl_esb.rules" not in modules


def test_a_captured_envelope_with_bom_and_crlf_verifies_over_its_own_bytes(cli, here):
    """A peer on Windows: a byte-order mark, CRLF line ends and indentation inside data, signed as sent."""
    keygen(cli, "keys")
    key = serialization.load_der_private_key(base64.b64decode((here / "keys" / "esb-private.key").read_text()), None)
    data = '{\r\n  "success": true,\r\n  "esbBody": "Dodoma — Makulu"\r\n}'
    sig = base64.b64encode(key.sign(data.encode(), ec.ECDSA(hashes.SHA256()))).decode()
    (here / "captured.json").write_bytes(("\ufeff{\r\n\"data\": " + data + ',\r\n"signature": "' + sig + '"\r\n}\r\n').encode())
    r = cli("esb", "verify", "captured.json", "--key", "keys/esb-public.key", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"] == {"success": True, "esbBody": "Dodoma — Makulu"}
    (here / "altered.json").write_bytes((here / "captured.json").read_bytes().replace(b"\r\n  \"esbBody\"", b"\n  \"esbBody\""))
    r = cli("esb", "verify", "altered.json", "--key", "keys/esb-public.key")
    assert r.exit_code == 8  # one line end changed inside data: not what was signed
