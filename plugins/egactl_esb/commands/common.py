"""What the esb commands share: reading FILE or stdin, loading keys, the bad-signature error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from egactl.plugin.cli import EgactlError, InvalidInput, NotFound
from egactl.plugin.rules import RuleError

EXIT_BAD_SIGNATURE = 8
"""A signature (or an encrypted payload's tag) that does not verify: docs/exit-codes.md."""


class BadSignature(EgactlError):
    """The data was altered, or another key signed (or encrypted) it. Exit 8."""

    exit_code = EXIT_BAD_SIGNATURE


EXIT_REFUSED = 9
"""The bus answered a signed ``success: false``: docs/exit-codes.md."""


class Refused(EgactlError):
    """The bus (or the provider behind it) said no, in a validly signed answer. Exit 9."""

    exit_code = EXIT_REFUSED


InputFile = Annotated[str, typer.Argument(metavar="FILE", help="The file to read, or - for standard input.",
                                          show_default=False)]


def read_input(name: str) -> bytes:
    """FILE's bytes, or standard input's for ``-``."""
    if name == "-":
        return typer.get_binary_stream("stdin").read()
    path = Path(name).expanduser()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{name}: is a directory, not a file") from None
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot be read ({exc.strerror})") from None


def read_text(name: str) -> str:
    data = read_input(name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{_label(name)}: not UTF-8 text") from None


def _label(name: str) -> str:
    return "standard input" if name == "-" else name


def problem(name: str, exc: RuleError) -> EgactlError:
    """A rule's refusal as the command's error: a bad signature is exit 8, the rest exit 2."""
    from egactl_esb.rules import VerificationError

    if isinstance(exc, VerificationError):
        return BadSignature(f"{_label(name)}: {exc}")
    return InvalidInput(f"{_label(name)}: {exc}")


def load_key(path: str, kind: str) -> Any:
    """A private or public key file (base64 of DER); a usage error names the flag and the file."""
    from egactl_esb import rules

    raw = read_input(path)
    try:
        return rules.import_private(raw) if kind == "private" else rules.import_public(raw)
    except RuleError as exc:
        raise InvalidInput(f"--key {path}: {exc}") from None


def write_out(data: bytes) -> None:
    """Raw bytes on stdout (an envelope, a plaintext), ending with a newline."""
    stream = typer.get_binary_stream("stdout")
    stream.write(data if data.endswith(b"\n") else data + b"\n")
    stream.flush()
