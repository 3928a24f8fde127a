"""sms rules: numbers, sender IDs, templates, scheduling and quiet hours."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egactl.plugin.rules import RuleError
from egactl_sms import rules as v
from egactl_sms.server.drivers import msdg_datetime

UTC = dt.timezone.utc


@pytest.mark.parametrize("raw", ["0754123456", "754123456", "255754123456", "+255754123456", "00255754123456",
                                 "+255 754 123 456", "0754-123-456", " 0754123456 "])
def test_accepted_forms_give_e164(raw):
    assert v.recipient(raw) == "+255754123456"


@pytest.mark.parametrize("raw,why", [
    ("0222123456", "landline"),          # Dar es Salaam fixed line
    ("064123456", "too short"),          # a 064 number one digit short
    ("0641234567", "not a valid"),       # 064… is not an allocated mobile range
    ("07541234", "too short"),
    ("075412345678", "too long"),
    ("0800123456", "toll-free"),
    ("+254712345678", "not a Tanzanian"),
    ("0754 12a 456", "not a phone number"),
    ("", "empty"),
])
def test_rejected_numbers_say_why(raw, why):
    with pytest.raises(RuleError) as exc:
        v.recipient(raw)
    assert str(exc.value).startswith("invalid number ")
    assert why in str(exc.value)


@given(st.sampled_from(["61", "62", "65", "67", "68", "69", "71", "73", "74", "75", "76", "77", "78"]),
       st.integers(0, 9_999_999))
def test_every_form_of_a_mobile_number_normalises_alike(prefix, rest):
    national = f"{prefix}{rest:07d}"
    forms = [national, "0" + national, "255" + national, "+255" + national, "00255" + national]
    assert {v.recipient(f) for f in forms} == {"+255" + national}


@pytest.mark.parametrize("name,ok", [("RITA", True), ("NIDA TZ", True), ("15200", True), ("ABCDEFGHIJK", True),
                                     ("ABCDEFGHIJKL", False), ("RITA-TZ", False), ("", False), (" RITA", False)])
def test_sender_ids(name, ok):
    assert (v.check_sender_id(name) is None) is ok


def test_messages():
    assert v.check_message("") == "the message is empty"
    assert v.check_message("   \n") == "the message is empty"
    assert "control character" in v.check_message("Habari\x1b")
    assert "too long" in v.check_message("a" * (153 * 10 + 1))
    assert v.check_message("a" * (153 * 10)) is None
    assert v.check_message("Habari\nJuma") is None


def test_templates():
    t = v.compile_template("Habari {name}, deni lako ni TZS {amount}. {{asante}}")
    assert t.fields == ["name", "amount"]
    assert t.render({"name": "Juma", "amount": "5,000"}) == "Habari Juma, deni lako ni TZS 5,000. {asante}"
    assert v.compile_template("{ first name }").fields == ["first name"]
    for bad in ("Habari {name", "Habari name}", "Habari {}", "  "):
        with pytest.raises(RuleError):
            v.compile_template(bad)


def test_templates_do_no_attribute_lookups():
    t = v.compile_template("{name.__class__}")
    assert t.render({"name.__class__": "x"}) == "x"
    assert t.render({"name": "Juma"}) == ""


@pytest.mark.parametrize("utc_hour,quiet", [(3, True), (4, False), (17, False), (17.99, False), (18, True),
                                            (23, True), (0, True), (3.99, True)])
def test_quiet_hours_are_21_to_07_eat(utc_hour, quiet):
    when = dt.datetime(2026, 11, 22, tzinfo=UTC) + dt.timedelta(hours=utc_hour)
    assert v.is_quiet(when) is quiet


def test_after_quiet_hours_is_the_next_0700_eat():
    evening = dt.datetime(2026, 11, 22, 19, 30, tzinfo=UTC)     # 22:30 EAT
    assert v.after_quiet_hours(evening) == dt.datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    small_hours = dt.datetime(2026, 11, 22, 1, 0, tzinfo=UTC)   # 04:00 EAT
    assert v.after_quiet_hours(small_hours) == dt.datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    noon = dt.datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert v.after_quiet_hours(noon) == noon
    assert msdg_datetime(noon) == "2026-11-22 12:00:00"
