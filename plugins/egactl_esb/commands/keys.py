"""egactl esb keygen: an institution's GovESB key pair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egactl.plugin.cli import Column, Conflict, InvalidInput, context, enforce, plugin_config, write_private

PRIVATE_FILE = "esb-private.key"
PUBLIC_FILE = "esb-public.key"

COLUMNS = [Column("curve"), Column("private_key_file", "PRIVATE KEY FILE"), Column("public_key_file", "PUBLIC KEY FILE"),
           Column("public_key", "PUBLIC KEY")]


def keygen(curve: Annotated[str, typer.Option("--curve", metavar="CURVE",
                                              help="secp256k1 or prime256v1 (P-256): the one GovESB gave you.")] = "secp256k1",
           out: Annotated[Path, typer.Option("--out", metavar="DIR", file_okay=False,
                                             help="Where to write esb-private.key and esb-public.key.")] = Path("."),
           keyring: Annotated[bool, typer.Option("--keyring",
                                                 help="Keep the private key in the keyring (or the owner-only credentials "
                                                      "file) as the profile's GovESB key, not in a file.")] = False):
    """Make a GovESB key pair: the private key kept 0600, the public key shown.

    The private key (esb-private.key, base64 of PKCS#8 DER) is written 0600; the
    public key (esb-public.key, base64 of SubjectPublicKeyInfo DER, no PEM armour)
    is what you register with GovESB for your client. An existing key file is never
    overwritten (exit 5).

    With --keyring the private key is never written to a file: it is kept in the
    keyring (or the owner-only credentials file) as the profile's GovESB key,
    which `egactl esb send` then signs with; only esb-public.key is written.

    Examples:

      egactl esb keygen --out keys

      egactl esb keygen --keyring --out keys

      egactl esb keygen --curve prime256v1 --out p256-keys -o json
    """
    from egactl_esb import rules

    ctx = context.get()
    curve = enforce(rules.check_curve, curve, flag="--curve")
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out}: is not a directory")
    private, public = out / PRIVATE_FILE, out / PUBLIC_FILE
    profile = ctx.settings.profile
    if keyring:
        from egactl_esb.commands import connection

        if plugin_config.get_secret(connection.PLUGIN, profile, "private_key") is not None:
            raise Conflict(f"profile {profile} already keeps a GovESB private key in the keyring; nothing was written",
                           hint="a key in use is never replaced by keygen")
    for path in ((public,) if keyring else (private, public)):
        if path.exists():
            raise Conflict(f"{path} already exists; nothing was written",
                           hint="choose another --out, or move the old key away first")
    key = rules.generate_key(curve)
    public_b64 = rules.export_public(key)
    if keyring:
        from egactl_esb.commands import connection

        out.mkdir(parents=True, exist_ok=True)
        public.write_text(public_b64 + "\n", encoding="ascii")
        where, fallback = plugin_config.store_secret(connection.PLUGIN, profile, "private_key", rules.export_private(key))
        table = plugin_config.load(connection.PLUGIN, profile)
        table["private_key"] = connection.KEYRING
        plugin_config.save(connection.PLUGIN, profile, table)
        if fallback:
            ctx.warn(f"no system keyring: the private key is kept in {where}, readable only by you")
        ctx.success(f"Made a {curve} key pair: the private key kept in {where} for profile {profile}, "
                    f"the public key in {public}")
        ctx.render({"curve": curve, "private_key_file": None, "public_key_file": str(public),
                    "public_key": public_b64}, COLUMNS)
        return
    try:
        write_private(private, (rules.export_private(key) + "\n").encode("ascii"))
        public.write_text(public_b64 + "\n", encoding="ascii")
    except OSError as exc:
        private.unlink(missing_ok=True)
        raise InvalidInput(f"--out {out}: cannot write the keys ({exc.strerror}); nothing was kept") from None
    ctx.success(f"Wrote a {curve} key pair: {private} (readable only by you) and {public}")
    ctx.render({"curve": curve, "private_key_file": str(private), "public_key_file": str(public),
                "public_key": public_b64}, COLUMNS)
