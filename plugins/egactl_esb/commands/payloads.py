"""egactl esb encrypt / decrypt: GovESB's optional payload encryption, offline."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from egactl.plugin.rules import RuleError
from egactl_esb.commands.common import InputFile, load_key, problem, read_input, read_text, write_out

PublicKey = Annotated[str, typer.Option("--key", metavar="PUB", show_default=False,
                                        help="The recipient's public key file (base64 of SubjectPublicKeyInfo DER).")]
PrivateKey = Annotated[str, typer.Option("--key", metavar="PRIV", show_default=False,
                                         help="Your private key file (base64 of PKCS#8 DER).")]


def encrypt(file: InputFile, key: PublicKey):
    """Encrypt a payload for the holder of a public key.

    ECDH with a fresh ephemeral key on the recipient's curve, HKDF-SHA256 (32 zero
    bytes of salt, info "aes-encryption"), AES-256-GCM with a random 12-byte IV:
    {"ephemeralKey": ..., "iv": ..., "encryptedData": ...}, where encryptedData is
    the 16-byte tag followed by the ciphertext, all base64.

    Examples:

      egactl esb encrypt body.json --key esb-public.key

      egactl esb encrypt body.xml --key esb-public.key > body.enc.json
    """
    from egactl_esb import rules

    plaintext = read_input(file)
    public = load_key(key, "public")
    write_out(rules.serialise(rules.encrypt(plaintext, public)).encode("ascii"))


def decrypt(file: InputFile, key: PrivateKey):
    """Decrypt an encrypted payload with your private key.

    The plaintext is printed as it was encrypted.

    FILE holds the payload {"ephemeralKey", "iv", "encryptedData"}, or an envelope
    whose data.esbBody is one. Exit 8 when it does not decrypt (altered, or
    encrypted for another key); exit 2 when it is not an encrypted payload.

    Examples:

      egactl esb decrypt body.enc.json --key keys/esb-private.key

      egactl esb decrypt - --key keys/esb-private.key < body.enc.json
    """
    from egactl_esb import rules

    text = read_text(file)
    private = load_key(key, "private")
    try:
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RuleError(f"the JSON is not valid (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
        if isinstance(value, dict) and "ephemeralKey" not in value and isinstance(value.get("data"), dict):
            value = value["data"].get("esbBody")
        plaintext = rules.decrypt(value, private)
    except RuleError as exc:
        raise problem(file, exc) from None
    write_out(plaintext)
