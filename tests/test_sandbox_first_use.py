"""Thirty egactl commands at once on a fresh sandbox.

Before: on a loaded machine, processes waiting for SQLite's write lock past the
busy timeout exited 1 with "unexpected error: OperationalError: database is
locked", and processes that arrived between the schema's creation and its seed
listed an empty sandbox. Now every process either works on a seeded sandbox
(exit 0) or says the database stayed busy, exit 7, with a hint; never exit 1.

``EGACTL_SQLITE_BUSY_TIMEOUT`` (seconds) shortens the 30-second timeout so that
"past the busy timeout" happens on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from egactl.errors import BUSY_HINT

CHILD = """
import os, sys, time
import egactl.cli, egactl.server.app
egactl.server.app.load_parts()  # imports done first, so that the herd really starts together
open(sys.argv[1] + "." + str(os.getpid()), "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
egactl.cli.main(sys.argv[2:])
"""


def herd(tmp_path: Path, n: int, busy_timeout: str, *args: str) -> list[subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(EGACTL_DATA_DIR=str(tmp_path / "data"), EGACTL_CONFIG_DIR=str(tmp_path / "config"),
               EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1", EGACTL_SQLITE_BUSY_TIMEOUT=busy_timeout)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(go), *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    give_up = time.monotonic() + 600  # not an assertion: the herd just starts less together
    while len(list(tmp_path.glob("go.*"))) < n and time.monotonic() < give_up and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    go.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=900)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize("busy_timeout", ["0.05", "30"])
def test_thirty_processes_on_a_fresh_sandbox(tmp_path, busy_timeout):
    results = herd(tmp_path, 30, busy_timeout, "institutions", "list", "-o", "json")
    codes = sorted(r.returncode for r in results)
    assert set(codes) <= {0, 7}, [(r.returncode, r.stderr[-300:]) for r in results if r.returncode not in (0, 7)]
    for r in results:
        if r.returncode == 7:
            (line,) = r.stderr.strip().splitlines()
            error = json.loads(line)
            assert error["error"] == "busy" and "stayed busy" in error["message"], line
            assert error["hint"] == BUSY_HINT
        else:
            # Never a schema without its seed: every listing sees the sandbox's 8 institutions.
            assert len(json.loads(r.stdout)) == 8, r.stdout
    assert 0 in codes
    # Whatever the herd did, the sandbox is whole and seeded once.
    env = dict(os.environ, EGACTL_DATA_DIR=str(tmp_path / "data"), EGACTL_CONFIG_DIR=str(tmp_path / "config"),
               EGACTL_CREDENTIAL_STORE="file")
    r = subprocess.run([sys.executable, "-m", "egactl", "institutions", "list", "-o", "json"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert sorted(i["code"] for i in json.loads(r.stdout)) == sorted(
        ["EGA", "RITA", "TRA", "NIDA", "MOH", "UDOM", "KINONDONI-MC", "ARUSHA-CC"])
