"""TAB completes govnet's values: site references and pool names from the API, onboarding states."""

from __future__ import annotations


import pytest

from egactl.plugin.testing import complete




@pytest.mark.parametrize("line, expected", [
    ("egactl govnet sites show RITA/d", ["RITA/dodoma-hq"]),
    ("egactl govnet history RI", ["RITA/dodoma-hq"]),
    ("egactl govnet approve RITA/", ["RITA/dodoma-hq"]),
    ("egactl govnet onboard --site R", ["RITA/dodoma-hq"]),
    ("egactl govnet pools show d", ["dodoma-1", "dar-1"]),
    ("egactl govnet pools delete dar", ["dar-1"]),
    ("egactl govnet onboard --pool do", ["dodoma-1"]),
    ("egactl govnet sites list --state s", ["suspended"]),
    ("egactl govnet sites list -s a", ["approved", "active"]),
])
def test_values_complete(line, expected):
    assert complete(line) == expected
