"""egactl.plugin.testing, the SDK's pytest plugin, as a plugin author uses it:
activated by name in a conftest, driving real commands against the real backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

AUTHOR_TESTS = '''
import pytest


@pytest.fixture
def egactl_plugins():
    return ["dr"]  # the core and one plugin, as a third-party plugin tests itself


ADD = ("--hosting", "gdc-dodoma", "--primary", "https://crvs.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")


def test_roles_and_the_real_backend(egactl_cli, egactl_backend):
    added = egactl_cli("dr", "systems", "add", "RITA/crvs", *ADD, role="operator")
    assert added.exit_code == 0, added.stderr
    assert egactl_cli("dr", "systems", "add", "TRA/idras", *ADD, role="operator").exit_code == 4
    assert egactl_cli("dr", "systems", "remove", "RITA/crvs", "--yes", role="helpdesk").exit_code == 4
    listed = egactl_cli("dr", "systems", "list", "-i", "TRA", role="operator_tra")
    assert listed.exit_code == 0 and "crvs" not in listed.stdout
    from sqlalchemy import text
    with egactl_backend.read_sessions() as session:
        assert session.execute(text("select institution, name from dr_systems where name = 'crvs'")).all() == [
            ("RITA", "crvs")]


def test_only_the_chosen_plugin_is_mounted(egactl_cli):
    r = egactl_cli("ussd", "codes", "list")
    assert r.exit_code != 0


def test_the_clock_moves_when_told(egactl_clock, egactl_backend):
    before = egactl_backend.now()
    egactl_clock.advance(days=91)
    assert (egactl_backend.now() - before).days == 91
'''


def test_a_plugin_author_tests_with_the_sdk_fixtures(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["egactl.plugin.testing"]\n')
    (tmp_path / "test_author.py").write_text(AUTHOR_TESTS)
    path = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "--rootdir",
                        str(tmp_path), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, PYTHONPATH=path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout
