"""mail completes values, not only names: mailbox addresses, domains, lists, states, institutions
(from the API; here the sandbox's seed), through the real executable as a shell asks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def complete(line: str) -> list[str]:
    words = line.split(" ")
    env = dict(os.environ, _EGACTL_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    r = subprocess.run([sys.executable, "-m", "egactl"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout.splitlines()


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
