"""egactl esb keygen: an institution's GovESB key pair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egactl.plugin.cli import Column, Conflict, InvalidInput, context, enforce, write_private

PRIVATE_FILE = "esb-private.key"
PUBLIC_FILE = "esb-public.key"

COLUMNS = [Column("curve"), Column("private_key_file", "PRIVATE KEY FILE"), Column("public_key_file", "PUBLIC KEY FILE"),
           Column("public_key", "PUBLIC KEY")]


def keygen(curve: Annotated[str, typer.Option("--curve", metavar="CURVE",
                                              help="secp256k1 or prime256v1 (P-256): the one GovESB gave you.")] = "secp256k1",
           out: Annotated[Path, typer.Option("--out", metavar="DIR", file_okay=False,
                                             help="Where to write esb-private.key and esb-public.key.")] = Path(".")):
    """Make a GovESB key pair: the private key kept 0600, the public key shown.

    The private key (esb-private.key, base64 of PKCS#8 DER) is written 0600; the
    public key (esb-public.key, base64 of SubjectPublicKeyInfo DER, no PEM armour)
    is what you register with GovESB for your client. An existing key file is never
    overwritten (exit 5).

    Examples:

      egactl esb keygen --out keys

      egactl esb keygen --curve prime256v1 --out p256-keys -o json
    """
    from egactl_esb import rules

    ctx = context.get()
    curve = enforce(rules.check_curve, curve, flag="--curve")
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out}: is not a directory")
    private, public = out / PRIVATE_FILE, out / PUBLIC_FILE
    for path in (private, public):
        if path.exists():
            raise Conflict(f"{path} already exists; nothing was written",
                           hint="choose another --out, or move the old key away first")
    key = rules.generate_key(curve)
    public_b64 = rules.export_public(key)
    try:
        write_private(private, (rules.export_private(key) + "\n").encode("ascii"))
        public.write_text(public_b64 + "\n", encoding="ascii")
    except OSError as exc:
        private.unlink(missing_ok=True)
        raise InvalidInput(f"--out {out}: cannot write the keys ({exc.strerror}); nothing was kept") from None
    ctx.success(f"Wrote a {curve} key pair: {private} (readable only by you) and {public}")
    ctx.render({"curve": curve, "private_key_file": str(private), "public_key_file": str(public),
                "public_key": public_b64}, COLUMNS)
