"""sms encoding: GSM-7 or UCS-2, segment counts on real cases, and split properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egactl_sms import encoding
from egactl_sms.encoding import GSM7, UCS2, PART_LIMIT, SINGLE_LIMIT, analyse, split

SWAHILI = "Habari za asubuhi. Tafadhali fika ofisini kesho saa tatu asubuhi ukiwa na cheti chako cha kuzaliwa."

CASES = [
    # (what, text, encoding, length in septets/units, segments)
    ("plain Swahili", SWAHILI, GSM7, len(SWAHILI), 1),
    ("Swahili with a curly apostrophe", "Ndugu, ni muhimu uje leo – usikose’", UCS2, 35, 1),
    ("Swahili with curly quotes, long", "“" + "a" * 69 + "”", UCS2, 71, 2),
    ("euro sign costs two septets", "Ada ni €5", GSM7, 10, 1),
    ("80 euro signs fill one segment", "€" * 80, GSM7, 160, 1),
    ("81 euro signs need two", "€" * 81, GSM7, 162, 2),
    ("all extension characters", "[]{}~^|\\€", GSM7, 18, 1),
    ("emoji is two UCS-2 units", "Hongera 🎉", UCS2, 10, 1),
    ("35 emoji fill one segment", "😀" * 35, UCS2, 70, 1),
    ("36 emoji need two", "😀" * 36, UCS2, 72, 2),
    ("160 GSM characters: one segment", "a" * 160, GSM7, 160, 1),
    ("161 GSM characters: two segments", "a" * 161, GSM7, 161, 2),
    ("306 GSM characters: two segments", "a" * 306, GSM7, 306, 2),
    ("307 GSM characters: three segments", "a" * 307, GSM7, 307, 3),
    ("70 UCS-2 characters: one segment", "ж" * 70, UCS2, 70, 1),
    ("71 UCS-2 characters: two segments", "ж" * 71, UCS2, 71, 2),
    ("134 UCS-2 characters: two segments", "ж" * 134, UCS2, 134, 2),
    ("135 UCS-2 characters: three segments", "ж" * 135, UCS2, 135, 3),
    ("GSM accented letters stay GSM", "Café à Zürich, señor", GSM7, 20, 1),
]


@pytest.mark.parametrize("what,text,enc,length,segments", CASES, ids=[c[0] for c in CASES])
def test_real_cases(what, text, enc, length, segments):
    a = analyse(text)
    assert (a.encoding, a.length, a.segments) == (enc, length, segments)
    assert len(split(text)) == segments


def test_escape_never_split_across_segments():
    # 152 septets of 'a', then '€' (2 septets): 154 > 153, so the euro starts part two whole.
    text = "a" * 152 + "€" + "b" * 10
    parts = split(text)
    assert parts == ["a" * 152, "€" + "b" * 10]


def test_surrogate_pair_never_split_across_segments():
    text = "a" * 66 + "😀" + "b" * 10  # 66 units, then a pair that would make 68 > 67
    parts = split(text)
    assert parts == ["a" * 66, "😀" + "b" * 10]
    assert all(not ("\ud800" <= p[-1] <= "\udbff") for p in parts)


def test_typographic_characters_named_and_normalised():
    text = "Ndugu, ni muhimu uje leo – usikose’"
    a = analyse(text)
    assert a.typographic_only and a.non_gsm == ("–", "’")
    warning = encoding.typographic_warning(a)
    assert "U+2013" in warning and "U+2019" in warning and "--normalize" in warning
    fixed = encoding.normalize(text)
    assert fixed == "Ndugu, ni muhimu uje leo - usikose'"
    assert analyse(fixed).encoding == GSM7


def test_real_non_gsm_text_is_not_called_typographic():
    a = analyse("Karibu 😀 – asante")
    assert a.encoding == UCS2 and not a.typographic_only
    assert encoding.typographic_warning(a) is None


def _cost(part: str, enc: str) -> int:
    if enc == GSM7:
        ext = encoding.extension_characters()
        return sum(2 if c in ext else 1 for c in part)
    return len(part.encode("utf-16-le")) // 2


gsm_chars = st.sampled_from(sorted(encoding._tables()[0] | encoding._tables()[1]))
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=700)
gsm_text = st.text(gsm_chars, max_size=700)
mixed = st.one_of(any_text, gsm_text, st.text(st.sampled_from(["a", "€", "😀", "’", "[", "ж"]), max_size=400))


@settings(max_examples=150, deadline=None)
@given(mixed)
def test_split_rejoins_and_respects_limits(text):
    a = analyse(text)
    parts = split(text)
    assert "".join(parts) == text
    assert len(parts) == a.segments
    limit = SINGLE_LIMIT[a.encoding] if a.segments == 1 else PART_LIMIT[a.encoding]
    for part in parts:
        assert part
        assert _cost(part, a.encoding) <= limit
    assert sum(_cost(p, a.encoding) for p in parts) == a.length


@settings(max_examples=100, deadline=None)
@given(gsm_text)
def test_gsm_text_is_gsm_and_matches_the_codec(text):
    a = analyse(text)
    assert a.encoding == GSM7
    assert a.length == len(text.encode("gsm03.38"))
