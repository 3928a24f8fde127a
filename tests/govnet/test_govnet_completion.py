"""TAB completes govnet's values: site references and pool names from the API, onboarding states."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def complete(line: str) -> list[str]:
    """Ask egactl for bash completions the way its completion script does (a fresh sandbox here)."""
    words = line.split(" ")
    env = dict(os.environ, _EGACTL_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    r = subprocess.run([sys.executable, "-m", "egactl"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout.splitlines()


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
