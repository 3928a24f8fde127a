"""TAB completes dr's values, not only its names (issue 12 §4): system references from the
inventory (the sandbox's seed here, through the real executable) and the fixed words of
states, criticalities and clearable fields."""

from __future__ import annotations


import pytest

from egactl.plugin.testing import complete




@pytest.mark.parametrize("line, expected", [
    ("egactl dr systems show RITA/", ["RITA/crvs"]),
    ("egactl dr systems show T", ["TRA/idras"]),
    ("egactl dr history M", ["MOH/dhis2"]),
    ("egactl dr check --system RITA", ["RITA/crvs"]),
    ("egactl dr drills list R", ["RITA/crvs"]),
    ("egactl dr check --fail-on c", ["critical"]),
    ("egactl dr drills list --result r", ["running"]),
    ("egactl dr systems list --criticality h", ["high"]),
    ("egactl dr systems update RITA/crvs --clear dr", ["dr_endpoint", "dr_hosting"]),
])
def test_values_complete_from_the_sandbox_and_fixed_words(line, expected):
    assert complete(line) == expected
