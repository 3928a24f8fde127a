"""mail completes values, not only names: mailbox addresses, domains, lists, states, institutions
(from the API; here the sandbox's seed), through the real executable as a shell asks."""

from __future__ import annotations


import pytest

from egactl.plugin.testing import complete




@pytest.mark.parametrize("line, expected", [
    ("egactl mail show juma", ["juma.mrisho@rita.go.tz"]),
    ("egactl mail list --state su", ["suspended"]),
    ("egactl mail domains delete arusha", ["arushacc.go.tz"]),
    ("egactl mail domains update rita.go.tz --naming-rule g", ["given.family", "g.family"]),
    ("egactl mail list-group show st", ["staff@rita.go.tz"]),
    ("egactl mail list-group add-members staff@rita.go.tz zuh", ["zuhura.ngwanakilala@rita.go.tz"]),
    ("egactl mail update 111000002 --move-to TR", ["TRA"]),
])
def test_values_complete_from_the_sandbox(line, expected):
    assert complete(line) == expected
