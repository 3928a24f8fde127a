"""How each router vendor's configuration carries a value, applied to every ``{{ … }}``.

The CE templates render with one of these as Jinja2's ``finalize``: every value
a template prints goes through it, so a template author cannot forget to
escape, and text stored before the input rule existed (or reaching the
backend some other way) still cannot add a line or close a quote.

- Cisco IOS has no escapes: a line break starts a new command and "?" asks for
  help while a configuration is pasted. Every character IOS cannot carry on a
  line (controls, line and paragraph separators, "?", anything not ASCII after
  Unicode decomposition) becomes a space or "_".
- MikroTik RouterOS values are written inside double quotes (the shipped
  template quotes every one); inside them '"', '\\', '$' and '?' are escaped
  with a backslash, line breaks and tabs as \\n \\r \\t, and any other control or
  non-ASCII character as \\XX per UTF-8 byte, as RouterOS's scripting manual
  describes.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Callable


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def cisco_ios(value: Any) -> str:
    """One token of an IOS line: printable ASCII, no "?", nothing that ends the line."""
    text = unicodedata.normalize("NFKD", _text(value))
    out = []
    for ch in text:
        if " " <= ch <= "~":
            out.append("_" if ch == "?" else ch)
        elif unicodedata.combining(ch):
            continue  # the accent of a decomposed letter: "é" is written "e"
        elif unicodedata.category(ch)[0] in "CZ":
            out.append(" ")  # controls, line/paragraph separators, odd spaces
        else:
            out.append("_")
    return "".join(out)


_ROUTEROS = {'"': '\\"', "\\": "\\\\", "$": "\\$", "?": "\\?", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def mikrotik(value: Any) -> str:
    """The inside of a RouterOS double-quoted string."""
    out = []
    for ch in _text(value):
        if ch in _ROUTEROS:
            out.append(_ROUTEROS[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("".join(f"\\{b:02X}" for b in ch.encode("utf-8")))
    return "".join(out)


ESCAPERS: dict[str, Callable[[Any], str]] = {"cisco-ios": cisco_ios, "mikrotik": mikrotik}
