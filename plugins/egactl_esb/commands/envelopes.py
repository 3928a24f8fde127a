"""egactl esb sign / verify: GovESB envelopes, JSON or XML, offline."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from egactl.plugin.cli import Column, InvalidInput, context
from egactl.plugin.rules import RuleError
from egactl_esb.commands.common import InputFile, load_key, problem, read_text, write_out

PrivateKey = Annotated[str, typer.Option("--key", metavar="PRIV", show_default=False,
                                         help="Your private key file (base64 of PKCS#8 DER, as keygen writes it).")]
PublicKey = Annotated[str, typer.Option("--key", metavar="PUB", show_default=False,
                                        help="The signer's public key file (base64 of SubjectPublicKeyInfo DER).")]

VERDICT = [Column("signature"), Column("format"), Column("root"), Column("curve"), Column("data")]


def sign(file: InputFile, key: PrivateKey,
         root: Annotated[str, typer.Option("--root", metavar="NAME",
                                           help="The XML envelope's root element.")] = "esbrequest"):
    """Sign data into a GovESB envelope, JSON or XML as FILE is.

    FILE holds the data: a JSON object ({"apiCode": ..., "esbBody": ...}) becomes
    {"data": ..., "signature": ...}, signed (SHA256withECDSA) over the compact
    serialisation of data exactly as it stands in the envelope; an XML
    <data>…</data> element becomes <esbrequest><data>…</data><signature>…</signature></esbrequest>,
    signed over the <data> element as given.

    Examples:

      egactl esb sign request.json --key keys/esb-private.key

      egactl esb sign request.xml --key keys/esb-private.key > envelope.xml

      egactl esb sign - --key keys/esb-private.key < request.json
    """
    from egactl_esb import rules

    text = read_text(file)
    private = load_key(key, "private")
    try:
        if rules.detect_format(text) == "json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RuleError(f"the JSON is not valid (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
            envelope = rules.sign_json(data, private)
        else:
            if not _XML_NAME(root):
                raise InvalidInput(f"--root: {root!r} is not an XML element name")
            envelope = rules.sign_xml(text, private, root=root)
    except RuleError as exc:
        raise problem(file, exc) from None
    write_out(envelope.encode("utf-8"))


def _XML_NAME(name: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z_][\w.-]{0,63}", name) is not None


def verify(file: InputFile, key: PublicKey):
    """Verify an envelope's signature over its data exactly as received.

    JSON or XML envelopes.

    Exit 0 and "signature: valid" when the key's owner signed exactly these bytes of
    data; exit 8 and one line when not (the data altered by even one byte, another
    key, a key on another curve); exit 2 for an envelope that is not one.

    Examples:

      egactl esb verify response.json --key esb-public.key

      egactl esb verify envelope.xml --key esb-public.key -o json

      egactl esb verify - --key esb-public.key < response.json
    """
    from egactl_esb import rules

    ctx = context.get()
    text = read_text(file)
    public = load_key(key, "public")
    try:
        envelope = rules.verify_envelope(text, public)
    except RuleError as exc:
        raise problem(file, exc) from None
    verdict = {"signature": "valid", "format": envelope.format, "curve": rules.curve_name(public),
               "data": envelope.data()}
    if envelope.format == "xml":
        verdict["root"] = envelope.root
    if ctx.fmt in ("table", "wide") and not ctx.query:
        ctx.io.out.write(f"signature: valid ({rules.curve_name(public)} key, {envelope.format.upper()} envelope"
                         + (f" <{envelope.root}>" if envelope.format == "xml" else "") + ")\n")
        ctx.io.out.write(rules.serialise(verdict["data"]) + "\n")
    else:
        ctx.render(verdict, VERDICT)
