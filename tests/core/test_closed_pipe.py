"""A closed pipe ends quietly with exit 0 (`egactl … | head -1` under `set -o pipefail`),
as gh and kubectl do: never "unexpected error: BrokenPipeError", never exit 1.

Through the real executable, with stdout a pipe whose reader is already gone, so
the very first write fails whatever the size of the output.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "egactl", *args], stdout=write_end, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [
    ("institutions", "list", "-o", "json"),
    ("institutions", "list"),
    ("institutions", "list", "-o", "csv"),
    ("plugins", "list", "-o", "json"),
    ("--help",),
    ("sms", "bulk", "--help"),
    ("sms",),
    (),
], ids=lambda a: " ".join(a) or "egactl")
def test_a_closed_pipe_ends_quietly(args):
    run = run_into_closed_pipe(*args)
    problems = [line for line in run.stderr.splitlines() if not line.startswith(("sandbox:", "warning: no system keyring"))]
    assert run.returncode == 0, run.stderr
    assert problems == [], run.stderr


def test_a_real_error_still_fails_with_its_code():
    run = run_into_closed_pipe("institutions", "show", "NOPE")
    assert run.returncode == 3
    assert "institution NOPE not found" in run.stderr
