"""egactl plugins new: a working plugin in the one plugin shape, or nothing at all.

(That the skeleton also installs with pip into a fresh venv, from the template shipped
inside an installed egactl, is tests/core/test_third_party_plugin.py.)
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from test_third_party_plugin import HISTORY_TEST, register, shape

ROOT = Path(__file__).resolve().parents[2]

SHAPE = shape("egactl_pepmis", "records")


def tree(path: Path) -> dict[str, int]:
    """Every file under ``path`` with its permission bits."""
    return {p.relative_to(path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in path.rglob("*") if p.is_file()}


def with_site(project: Path, name: str) -> dict[str, str]:
    """An environment in which ``project`` is installed as far as egactl can tell (its entry point)."""
    site = register(project.parent / "site", name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), str(site), str(project)])
    return env


@pytest.fixture
def work(tmp_path) -> Path:
    """A folder of its own (the backend of the ``cli`` fixture keeps its files in tmp_path)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


def test_new_writes_a_plugin_in_the_shape_whose_own_tests_pass(cli, work):
    target = work / "egactl-pepmis"
    old = os.umask(0o077)  # the files are 0644 whatever the umask
    try:
        r = cli("plugins", "new", "pepmis", "--dir", str(target))
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.stderr
    assert f"Wrote plugin pepmis to {target}" in r.stderr
    files = tree(target)
    assert set(files) == SHAPE
    assert set(files.values()) == {0o644}
    assert {stat.S_IMODE(p.stat().st_mode) for p in [target, *target.rglob("*")] if p.is_dir()} == {0o755}
    assert list(work.iterdir()) == [target]  # no staging folder left behind
    text = "\n".join(p.read_text() for p in target.rglob("*") if p.is_file())
    assert "{{" not in text and "{%" not in text
    assert 'pepmis = "egactl_pepmis:plugin"' in (target / "pyproject.toml").read_text()
    assert (target / "egactl_pepmis" / "__init__.py").read_text().startswith('"""pepmis: ')

    env = with_site(target, "pepmis")
    own = subprocess.run([sys.executable, "-m", "pytest", "-v", "-n", "0", "-p", "no:cacheprovider", "--rootdir",
                          str(target)], cwd=target, env=env, capture_output=True, text=True, timeout=600)
    assert own.returncode == 0, own.stdout[-4000:] + own.stderr[-2000:]
    assert " 6 passed" in own.stdout
    assert f"{HISTORY_TEST} PASSED" in own.stdout  # its first release's history builds what its models declare
    assert 'migrations="egactl_pepmis.server.migrations"' in (target / "egactl_pepmis/server/__init__.py").read_text()
    helped = subprocess.run([sys.executable, "-m", "egactl", "pepmis", "--help"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0, helped.stderr
    assert "pepmis: records kept per institution." in helped.stdout
    assert "records" in helped.stdout


@pytest.mark.parametrize("name", ["Pepmis", "p", "pep-mis", "pep_mis", "9lives", "a" * 21, "pepmis/../x", ""])
def test_a_bad_name_is_a_usage_error_and_writes_nothing(cli, work, name):
    r = cli("plugins", "new", name, "--dir", str(work / "out"))
    assert r.exit_code == 2, r.stdout
    assert r.stderr.startswith(f"error: plugin name {name!r} must be 2-20 lower-case letters and digits")
    assert len(r.stderr.strip().splitlines()) == 1
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("name", ["plugins", "audit", "institutions", "tokens"])
def test_a_name_of_egactl_itself_is_refused(cli, work, name):
    r = cli("plugins", "new", name, "--dir", str(work / "out"))
    assert r.exit_code == 2
    assert f"plugin name {name!r} is taken by egactl itself" in r.stderr
    assert list(work.iterdir()) == []


def test_the_name_of_an_installed_plugin_is_a_conflict(cli, work):
    r = cli("plugins", "new", "sms", "--dir", str(work / "out"))
    assert r.exit_code == 5
    assert "a plugin named 'sms' is already installed" in r.stderr
    assert list(work.iterdir()) == []


def test_an_existing_directory_that_is_not_empty_is_refused(cli, work):
    target = work / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    r = cli("plugins", "new", "pepmis", "--dir", str(target))
    assert r.exit_code == 5
    assert f"{target} already exists and is not empty; nothing was written" in r.stderr
    assert tree(target) == {"notes.txt": stat.S_IMODE((target / "notes.txt").stat().st_mode)}
    assert sorted(p.name for p in work.iterdir()) == ["mine"]
    a_file = work / "a-file"
    a_file.write_text("x")
    assert cli("plugins", "new", "pepmis", "--dir", str(a_file)).exit_code == 5
    assert a_file.read_text() == "x"


def test_an_empty_directory_is_filled(cli, work):
    target = work / "empty"
    target.mkdir()
    r = cli("plugins", "new", "pepmis", "--dir", str(target))
    assert r.exit_code == 0, r.stderr
    assert set(tree(target)) == SHAPE


def test_a_missing_parent_directory_is_a_usage_error(cli, work):
    r = cli("plugins", "new", "pepmis", "--dir", str(work / "no" / "such" / "place"))
    assert r.exit_code == 2
    assert "is not a directory; nothing was written" in r.stderr
    assert list(work.iterdir()) == []


def test_nothing_is_half_written_when_writing_fails(cli, work, monkeypatch):
    import egactl.commands.plugins as plugins

    real = plugins._write_file
    written = []

    def disk_full_after_three(path, text):
        if len(written) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, text)
        written.append(path)

    monkeypatch.setattr(plugins, "_write_file", disk_full_after_three)
    target = work / "egactl-pepmis"
    r = cli("plugins", "new", "pepmis", "--dir", str(target))
    assert r.exit_code == 1
    assert r.stderr == f"error: could not write {target} (No space left on device); nothing was written\n"
    assert len(written) == 3
    assert list(work.iterdir()) == []  # neither the plugin nor the staging folder


def test_dry_run_lists_the_files_and_writes_nothing(cli, work):
    target = work / "egactl-pepmis"
    r = cli("plugins", "new", "pepmis", "--dir", str(target), "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.stderr
    import json

    assert {Path(row["file"]).relative_to(target).as_posix() for row in json.loads(r.stdout)} == SHAPE
    assert list(work.iterdir()) == []
