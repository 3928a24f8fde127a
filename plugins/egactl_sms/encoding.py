"""How a text travels as SMS: GSM 03.38 or UCS-2, and how many segments it costs.

The rules, shared by the CLI (estimates, warnings) and the backend (what is
stored and billed):

- GSM 03.38 (7-bit) when every character is in its basic table or its
  extension table; an extension character (``€ [ ] { } ~ ^ | \\``) is sent as
  an escape plus a septet, so it costs two. The tables come from the
  ``gsm0338`` codec, read once.
- Otherwise UCS-2 (UTF-16 code units); a character outside the BMP (an emoji)
  is a surrogate pair and costs two units.
- One segment holds 160 septets or 70 units; a longer text is split into
  segments of 153 or 67 (the user data header takes the rest).
- A split never cuts an escape sequence or a surrogate pair: segments break
  between characters, and each character's cost is counted whole.

A handful of typographic characters (curly quotes, dashes, the ellipsis) are
the usual reason Swahili text falls into UCS-2 and so costs more than twice as
much; ``typographic_only`` spots that and ``normalize`` replaces them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"
SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
PART_LIMIT = {GSM7: 153, UCS2: 67}

# Characters that word processors and phones substitute for plain ones, and
# their GSM replacements.
TYPOGRAPHIC = {
    "\u2018": "'",    # ‘
    "\u2019": "'",    # ’
    "\u201a": ",",    # ‚
    "\u201b": "'",    # ‛
    "\u02bc": "'",    # ʼ
    "\u2032": "'",    # ′
    "\u00b4": "'",    # ´
    "`": "'",
    "\u201c": '"',    # “
    "\u201d": '"',    # ”
    "\u201e": '"',    # „
    "\u2033": '"',    # ″
    "\u00ab": '"',    # «
    "\u00bb": '"',    # »
    "\u2010": "-",    # ‐
    "\u2011": "-",    # non-breaking hyphen
    "\u2012": "-",    # ‒
    "\u2013": "-",    # –
    "\u2014": "-",    # —
    "\u2212": "-",    # minus sign
    "\u2026": "...",  # …
    "\u00a0": " ",    # no-break space
    "\u2009": " ",    # thin space
    "\u202f": " ",    # narrow no-break space
    "\u200b": "",     # zero-width space
}
_TYPOGRAPHIC_TABLE = str.maketrans(TYPOGRAPHIC)


@functools.cache
def _tables() -> tuple[frozenset[str], frozenset[str], re.Pattern, re.Pattern]:
    """(basic characters, extension characters, a pattern finding characters outside
    GSM 03.38, a pattern finding extension characters)."""
    import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

    basic: set[str] = set()
    extension: set[str] = set()
    for byte in range(128):
        if byte == 0x1B:  # the escape itself is not a character a message may carry
            continue
        basic.add(bytes([byte]).decode("gsm03.38"))
        try:
            extension.add(bytes([0x1B, byte]).decode("gsm03.38"))
        except UnicodeDecodeError:
            pass
    extension -= basic
    non_gsm = re.compile("[^" + "".join(re.escape(c) for c in sorted(basic | extension)) + "]")
    escaped = re.compile("[" + "".join(re.escape(c) for c in sorted(extension)) + "]")
    return frozenset(basic), frozenset(extension), non_gsm, escaped


def extension_characters() -> frozenset[str]:
    return _tables()[1]


@dataclass(frozen=True)
class Analysis:
    """What a text costs: its encoding, its length in that encoding, its segments."""

    encoding: str
    length: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2)."""
    segments: int
    non_gsm: tuple[str, ...] = ()
    """The distinct characters that forced UCS-2, in order of first appearance."""

    @property
    def typographic_only(self) -> bool:
        """True when only typographic look-alikes keep this text out of GSM-7."""
        return bool(self.non_gsm) and all(c in TYPOGRAPHIC for c in self.non_gsm)

    def as_dict(self) -> dict:
        return {"encoding": self.encoding, "length": self.length, "segments": self.segments,
                "non_gsm": list(self.non_gsm)}


def _costs(text: str, encoding: str):
    """Each character's cost: 1 or 2 septets, or 1 or 2 code units."""
    if encoding == GSM7:
        ext = extension_characters()
        return (2 if c in ext else 1 for c in text)
    return (2 if ord(c) > 0xFFFF else 1 for c in text)


def _count(costs, total: int, encoding: str) -> int:
    if total == 0:
        return 0
    if total <= SINGLE_LIMIT[encoding]:
        return 1
    limit = PART_LIMIT[encoding]
    segments, used = 1, 0
    for cost in costs:
        if used + cost > limit:
            segments += 1
            used = 0
        used += cost
    return segments


def analyse(text: str) -> Analysis:
    _, _, non_gsm, escaped = _tables()
    if non_gsm.search(text) is None:
        escapes = len(escaped.findall(text))
        return Analysis(GSM7, len(text) + escapes, _segments(text, len(text) + escapes, escapes == 0, GSM7))
    length = len(text.encode("utf-16-le")) // 2
    return Analysis(UCS2, length, _segments(text, length, length == len(text), UCS2),
                    tuple(dict.fromkeys(non_gsm.findall(text))))


def _segments(text: str, length: int, uniform: bool, encoding: str) -> int:
    if length <= SINGLE_LIMIT[encoding]:
        return 1 if length else 0
    if uniform:  # every character costs one: no escape or pair to keep whole
        return -(-length // PART_LIMIT[encoding])
    return _count(_costs(text, encoding), length, encoding)


def split(text: str) -> list[str]:
    """The text as it will be sent, segment by segment (``"".join`` gives it back)."""
    a = analyse(text)
    if a.segments <= 1:
        return [text] if text else []
    limit = PART_LIMIT[a.encoding]
    parts: list[str] = []
    start, used = 0, 0
    for i, cost in enumerate(_costs(text, a.encoding)):
        if used + cost > limit:
            parts.append(text[start:i])
            start, used = i, 0
        used += cost
    parts.append(text[start:])
    return parts


def normalize(text: str) -> str:
    """Replace typographic look-alikes with their GSM equivalents (’ → ', … → ...)."""
    return text.translate(_TYPOGRAPHIC_TABLE)


def describe(chars: tuple[str, ...] | list[str], limit: int = 8) -> str:
    """'’ (U+2019), “ (U+201C)': characters named so a person can find them."""
    shown = [f"{c} (U+{ord(c):04X})" for c in list(chars)[:limit]]
    more = len(chars) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def typographic_warning(analysis: Analysis, *, messages: int | None = None) -> str | None:
    """The warning to show when typographic characters alone push text into UCS-2."""
    if not analysis.typographic_only:
        return None
    who = f"{messages} message{'s' if messages != 1 else ''}" if messages is not None else "the message"
    return (f"{who} will be sent as UCS-2 (70 characters a segment instead of 160) only because of "
            f"{describe(analysis.non_gsm)}; pass --normalize to replace them with plain characters")
