"""The shell completes ussd's values, not only its names: codes in the form being
typed (from the API: here a fresh sandbox), networks, states and institutions;
asked as bash and fish ask, through the real executable."""

from __future__ import annotations


import pytest

from egactl.plugin.testing import complete




@pytest.mark.parametrize("line, expected", [
    ("egactl ussd show 9", ["9", "90", "91", "92", "93", "94", "95", "96", "97", "98", "99"]),
    ("egactl ussd history 15", ["15"]),                               # two digits: not 152*NN
    ("egactl ussd suspend 152*0", [f"152*0{n}" for n in range(10)]),   # the form being typed
    ("egactl ussd simulate *152*9", [f"*152*9{n}#" for n in range(10)]),
    ("egactl ussd reserve -i RITA --code 0", [f"0{n}" for n in range(10)]),
    ("egactl ussd simulate 99 -n a", ["airtel"]),                      # the case being typed
    ("egactl ussd simulate 99 --network T", ["TTCL"]),
    ("egactl ussd provision 99 -n a", ["airtel", "all"]),
    ("egactl ussd provision 99 -s ", ["pending", "live", "failed"]),
    ("egactl ussd list --state a", ["available", "assigned"]),
    ("egactl ussd quota show RI", ["RITA"]),
    ("egactl ussd quota set KIN", ["KINONDONI-MC"]),
])
def test_values_complete(line, expected):
    assert complete(line) == expected


def test_a_code_completes_with_its_holder_and_a_network_with_its_code():
    assert complete("egactl ussd show 99", "fish") == ["99\tEGA"]   # the sandbox's demo code
    assert complete("egactl ussd simulate 99 -n V", "fish") == ["Vodacom\tMCC+MNC 64004"]
