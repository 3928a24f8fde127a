"""mail: the shared rules (address generation, syntax, employee numbers, quotas) and the state machine."""

from __future__ import annotations

import pytest

from egactl.plugin.rules import PREVIOUS, IllegalTransition, RuleError
from egactl_mail import rules as v
from egactl_mail.rules import MAILBOX


@pytest.mark.parametrize("given, family, expected", [
    ("Juma", "Mrisho", "juma.mrisho"),
    ("JUMA", "MRISHO", "juma.mrisho"),
    # apostrophes of every kind are removed, Swahili ng' included
    ("Zuhura", "Ng'wanakilala", "zuhura.ngwanakilala"),
    ("Sean", "O\u2019Brien", "sean.obrien"),
    ("Ama", "N\u02bcDiaye", "ama.ndiaye"),
    # hyphens and spaces inside a name become one hyphen
    ("Anna-Maria", "Mwanga-Kilima", "anna-maria.mwanga-kilima"),
    ("Salma", "Abdul  Rahman", "salma.abdul-rahman"),
    ("Peter", "van der Berg", "peter.van-der-berg"),
    # diacritics: NFKD, and the explicit map for letters NFKD leaves alone
    ("José", "Müller", "jose.muller"),
    ("Søren", "Łukasiewicz", "soren.lukasiewicz"),
    ("Jürgen", "Straße", "jurgen.strasse"),
    ("Æthelred", "Ðorđević", "aethelred.dordevic"),
    # several given names: the first one
    ("Juma Hassan Ali", "Mrisho", "juma.mrisho"),
    # punctuation and digits are not part of an address
    ("Neema", "Kweka (Mrs.)", "neema.kweka-mrs"),
    ("St. John", "Mwita", "st.mwita"),
])
def test_generated_local_part(given, family, expected):
    assert v.local_part_for(given, family) == expected


def test_preferred_name_replaces_the_first_given_name():
    assert v.local_part_for("Juma Hassan", "Mrisho", preferred_name="Hassan") == "hassan.mrisho"


@pytest.mark.parametrize("rule, expected", [("given.family", "juma.mrisho"), ("g.family", "j.mrisho"),
                                            ("family.given", "mrisho.juma")])
def test_naming_rules(rule, expected):
    assert v.local_part_for("Juma", "Mrisho", rule) == expected


@pytest.mark.parametrize("given, family", [("محمد", "Ali"), ("Juma", "Иванов"), ("Juma", "'-'"), ("   ", "Mrisho")])
def test_names_without_a_safe_ascii_form_are_refused(given, family):
    with pytest.raises(v.UnusableName) as refused:
        v.local_part_for(given, family)
    assert isinstance(refused.value, RuleError)  # one exception type for every rule


def test_long_names_leave_room_for_a_suffix():
    base = v.local_part_for("Juma", "Mwanamwambwa" * 8)
    assert len(base) <= v.MAX_BASE
    assert v.check_local_part(v.with_suffix(base, 999)) is None


def test_suffixes_and_stems():
    assert [v.with_suffix("juma.mrisho", n) for n in (1, 2, 12)] == ["juma.mrisho", "juma.mrisho2", "juma.mrisho12"]
    assert v.stem("juma.mrisho12") == "juma.mrisho"
    assert v.stem("juma.mrisho") == "juma.mrisho"


@pytest.mark.parametrize("address, ok", [
    ("juma.mrisho@rita.go.tz", True), ("j-m_2@udom.ac.tz", True),
    ("Juma@rita.go.tz", False),  # managed addresses are stored lower-case
    (".juma@rita.go.tz", False), ("juma..m@rita.go.tz", False), ("juma@rita", False), ("juma@@rita.go.tz", False),
    ("juma mrisho@rita.go.tz", False), ("a" * 65 + "@rita.go.tz", False),
])
def test_managed_address_syntax(address, ok):
    assert (v.check_address(address) is None) is ok


@pytest.mark.parametrize("address, ok", [("Some.One+news@Example.COM", True), ("o'neil@gmail.com", True),
                                         ("nobody", False), ("a@b", False), ("a b@example.com", False)])
def test_external_address_syntax(address, ok):
    assert (v.check_external_address(address) is None) is ok


@pytest.mark.parametrize("raw, normalised, ok", [("111234567", "111234567", True), (" ab 1234 ", "AB1234", True),
                                                 ("TZ-2020-17", "TZ-2020-17", True), ("12", "12", False),
                                                 ("12/34", "12/34", False), ("-123", "-123", False)])
def test_employee_numbers(raw, normalised, ok):
    assert v.normalise_employee_number(raw) == normalised
    assert (v.check_employee_number(normalised) is None) is ok


def test_employee_number_mask_keeps_the_last_three():
    assert v.mask_employee_number("111234567") == "******567"


@pytest.mark.parametrize("text, mb", [("2G", 2048), ("2 GB", 2048), ("1.5g", 1536), ("512M", 512), ("1536", 1536),
                                      ("100 GiB", 102400)])
def test_quota_parsing(text, mb):
    assert v.parse_quota(text) == mb


@pytest.mark.parametrize("text", ["50M", "101G", "2X", "", "-1G", "0.3M"])
def test_bad_quotas(text):
    with pytest.raises(RuleError):
        v.parse_quota(text)


# -- the state machine: every action from every state ----------------------------------------

LEGAL = {
    ("active", "suspend"): "suspended",
    ("suspended", "resume"): "active",
    ("active", "delete"): "deleted",
    ("suspended", "delete"): "deleted",
    ("deleted", "undelete"): PREVIOUS,
    ("deleted", "purge"): "purged",
}


@pytest.mark.parametrize("state", v.STATES)
@pytest.mark.parametrize("action", v.MOVES)
def test_every_transition(state, action):
    if (state, action) in LEGAL:
        assert MAILBOX.next_state(action, state) == LEGAL[(state, action)]
    else:
        with pytest.raises(IllegalTransition):
            MAILBOX.next_state(action, state)


def test_undelete_returns_to_the_state_before_delete():
    assert MAILBOX.next_state("undelete", "deleted") == PREVIOUS
    assert v.returning_to("suspended") == "suspended"
    assert v.returning_to("active") == "active"
    assert v.returning_to(None) == "active"  # a mailbox deleted before the state was recorded


@pytest.mark.parametrize("state, allowed", [("active", True), ("suspended", True), ("deleted", False),
                                            ("purged", False)])
def test_changes_only_while_the_mailbox_exists(state, allowed):
    changes = [a for a in MAILBOX.actions if a not in v.MOVES]
    assert changes == ["update", "resize", "reset-password", "alias", "move"]
    for op in changes:
        if allowed:
            assert MAILBOX.next_state(op, state) == state  # a change, not a move
        else:
            with pytest.raises(IllegalTransition, match=f"cannot {op} a mailbox that is {state}"):
                MAILBOX.next_state(op, state)
