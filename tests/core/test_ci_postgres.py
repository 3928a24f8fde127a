"""Under CI a PostgreSQL test that cannot start its server fails; elsewhere it skips, loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = '''
def test_needs_postgres(postgres_url):
    pass
'''


def _run_probe(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    (probe_dir / "test_probe.py").write_text(PROBE)
    (probe_dir / "conftest.py").write_text((Path(__file__).parents[1] / "conftest.py").read_text())
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["EGACTL_TEST_PG_BIN"] = str(tmp_path / "no-postgres-here")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "-q", "-rs",
                           "--rootdir", str(probe_dir), str(probe_dir)],
                          env=env, capture_output=True, text=True, timeout=120)


def test_missing_postgres_fails_under_ci(tmp_path):
    run = _run_probe(tmp_path, "true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "PostgreSQL NOT TESTED" in run.stdout
    assert "1 error" in run.stdout or "1 failed" in run.stdout


def test_missing_postgres_skips_loudly_elsewhere(tmp_path):
    run = _run_probe(tmp_path, None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout
    assert "PostgreSQL NOT TESTED" in run.stdout
