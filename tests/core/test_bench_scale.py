"""bench/scale.py can't rot: its --small mode builds the data set, starts `egactl serve`
and runs every look-up of issue 14's table through the real CLI, on SQLite and on
PostgreSQL. Only that it completes and prints a row per look-up (and backend) is
checked; no time is asserted (the figures are for reading, on a quiet machine)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "scale.py"


def lookups() -> list[str]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import scale
    finally:
        sys.path.pop(0)
    return [name for name, _, _ in scale.LOOKUPS]


def run_small(*extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, str(SCRIPT), "--small", *extra], env=env, capture_output=True,
                          text=True, timeout=900)


def assert_table(r: subprocess.CompletedProcess, backend: str) -> None:
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert any(line.startswith("look-up") and "100/10" in line for line in lines), r.stdout
    for name in lookups():
        rows = [line for line in lines if line.startswith(name) and f" {backend} " in line]
        assert len(rows) == 1, f"no row for {name!r} on {backend}:\n{r.stdout}"
        cells = rows[0][len(name):].split()
        assert cells[0] == backend and (cells[3].endswith("x") or cells[3] == "-"), rows[0]  # 10%, 100%, ratio
        # the server's own time (Server-Timing app;dur=) at both sizes, and its ratio
        assert all(re.fullmatch(r"\d+(\.\d)?", c) for c in cells[4:6]) and cells[6].endswith("x"), rows[0]
    assert sum("built" in line for line in lines) == 2, r.stdout  # the 10% and the 100% data set


def test_scale_small_sqlite_keeps_its_data_and_reuses_it(tmp_path):
    # --data: the first run builds both sets there, the second reuses them (no build) and times
    # the same look-ups; what it remembers (tokens) is readable by the owner only.
    first = run_small("--backend", "sqlite", "--data", str(tmp_path / "kept"))
    assert_table(first, "sqlite")
    assert (tmp_path / "kept" / "sets.json").stat().st_mode & 0o077 == 0
    again = run_small("--backend", "sqlite", "--data", str(tmp_path / "kept"), "--only", "audit")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    lines = again.stdout.splitlines()
    assert not any("built" in line for line in lines), again.stdout
    assert sum(line.startswith("  reused sqlite-") for line in lines) == 2, again.stdout
    timed = [name for name in lookups() if any(line.startswith(name) for line in lines)]
    assert timed == [name for name in lookups() if "audit" in name], again.stdout
    # the data set's last hour holds more than a page at both sizes: the same look-up at both
    since = next(line for line in lines if line.startswith("audit list --since 1h"))
    assert since.split()[-1] == "30", since


def test_scale_small_postgres(postgres_server):
    # The session's throwaway server (the fixture fails instead of skipping under CI=true).
    url = f"postgresql://postgres@127.0.0.1:{postgres_server['port']}/postgres"
    assert_table(run_small("--backend", "postgres", "--postgres-url", url), "postgres")
