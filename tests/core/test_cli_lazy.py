"""Lazy loading and plugin isolation, checked on the real executable with `python -X importtime`.

`-X importtime` lists every module a process imports, so these tests see what a
user's `egactl --version` really loads; no timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import start_server

# pydantic: typer 0.29 converts every parameter value through it (~100 ms); egactl's lean
# conversion (egactl._compat.typer_internals) spares plain commands that import.
HEAVY = ("fastapi", "sqlalchemy", "keyring", "uvicorn", "starlette", "jinja2", "phonenumbers", "pydantic",
         "pydantic_core")


def imported(stderr: str) -> set[str]:
    """Module names from -X importtime output ("import time: self | cumulative | name")."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def egactl(*args: str, env: dict | None = None, importtime: bool = False, timeout: float = 120):
    cmd = [sys.executable] + (["-X", "importtime"] if importtime else []) + ["-m", "egactl", *args]
    return subprocess.run(cmd, env=env if env is not None else dict(os.environ), capture_output=True, text=True,
                          timeout=timeout)


def heavy_or_plugin(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY or m.startswith("egactl_")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import httpx

    srv = start_server(tmp_path_factory.mktemp("lazy-server"))
    r = httpx.post(srv.url + "/api/v1/institutions", timeout=30,
                   json={"code": "RITA", "name": "Registration Insolvency and Trusteeship Agency", "kind": "agency"},
                   headers={"Authorization": f"Bearer {srv.admin_token}", "Idempotency-Key": "lazy-rita"})
    assert r.status_code == 201, r.text
    yield srv
    srv.proc.terminate()
    srv.proc.wait(timeout=10)


@pytest.mark.parametrize("args", [["--version"], ["--no-color", "--version"], ["--help"], ["institutions", "--help"],
                                  ["config", "list"]])
def test_startup_imports_no_plugin_and_nothing_heavy(args):
    r = egactl(*args, importtime=True)
    assert r.returncode == 0, r.stderr[-2000:]
    modules = imported(r.stderr)
    assert "egactl" in modules  # the parse worked
    assert heavy_or_plugin(modules) == set()


def test_version_does_not_even_import_typer():
    r = egactl("--version", importtime=True)
    assert r.stdout.startswith("egactl ")
    assert "typer" not in imported(r.stderr)


def python_egactl(code: str, *args: str, env: dict | None = None):
    """Run egactl's main in `python -X importtime -c` after `code` (to switch something off)."""
    program = f"{code}\nfrom egactl.cli import main\nmain({list(args)!r})"
    return subprocess.run([sys.executable, "-X", "importtime", "-c", program], capture_output=True, text=True,
                          timeout=120, env=env if env is not None else dict(os.environ))


def pydantic_in(modules: set[str]) -> bool:
    return any(m.split(".")[0] in ("pydantic", "pydantic_core") for m in modules)


def test_pydantic_is_kept_out_by_the_lean_conversion_and_this_test_would_see_it():
    """With egactl's lean value conversion switched off, the same command imports pydantic
    (on a typer that converts through it): the absence asserted above is the saving, not luck."""
    from egactl._compat import typer_internals

    on = python_egactl("", "-o", "json", "config", "list")
    off = python_egactl("from egactl._compat import typer_internals as t\nt.install_lean_coercion = lambda: False",
                        "-o", "json", "config", "list")
    assert on.returncode == off.returncode == 0, off.stderr[-2000:]
    assert not pydantic_in(imported(on.stderr))
    if typer_internals.lean_coercion_available():
        assert pydantic_in(imported(off.stderr))


def test_help_lists_plugins_without_importing_them():
    r = egactl("--help", importtime=True)
    assert "Service commands" in r.stdout
    for name in ("ussd", "sms", "mail", "govnet", "dr", "esb"):
        assert f"\n  {name} " in r.stdout
    assert not any(m.startswith("egactl_") for m in imported(r.stderr))


def test_list_against_a_server_imports_no_backend_no_keyring_no_plugin(server):
    env = dict(server.env, EGACTL_TOKEN=server.admin_token)
    r = egactl("institutions", "list", "-o", "json", env=env, importtime=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [i["code"] for i in json.loads(r.stdout)] == ["RITA"]
    modules = imported(r.stderr)
    assert "httpx" in modules
    assert heavy_or_plugin(modules) == set()  # pydantic included


def test_stored_file_token_does_not_import_keyring(server, tmp_path):
    env = dict(server.env, EGACTL_CONFIG_DIR=str(tmp_path / "cfg"))
    r = subprocess.run([sys.executable, "-m", "egactl", "auth", "login", "--with-token"], env=env,
                       input=server.admin_token + "\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    del env["EGACTL_CREDENTIAL_STORE"]  # reading needs no hint: the index says the token is in the file
    r = egactl("institutions", "list", "-o", "json", env=env, importtime=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert heavy_or_plugin(imported(r.stderr)) == set()


# -- a broken third-party plugin ---------------------------------------------------------------


@pytest.fixture
def broken_plugin(tmp_path) -> Path:
    """A pip-installed-looking distribution whose plugin module fails to import."""
    site = tmp_path / "site"
    pkg = site / "egactl_broken"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent('''\
        """GovESB: the government enterprise service bus (broken on purpose)."""
        import govesb_sdk_that_is_not_installed  # noqa: F401
        '''))
    dist = site / "egactl_broken-0.3.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: egactl-broken\nVersion: 0.3.0\n")
    (dist / "entry_points.txt").write_text("[egactl.plugins]\nbroken = egactl_broken:plugin\n")
    return site


def with_path(env: dict, site: Path) -> dict:
    return dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])))


def test_broken_plugin_does_not_break_help(broken_plugin):
    r = egactl("--help", env=with_path(dict(os.environ), broken_plugin), importtime=True)
    assert r.returncode == 0
    assert "broken" in r.stdout and "GovESB: the government enterprise service bus" in r.stdout
    assert "egactl_broken" not in imported(r.stderr)
    assert "Traceback" not in r.stderr


def test_plugins_list_shows_it_broken(broken_plugin):
    r = egactl("plugins", "list", "-o", "json", env=with_path(dict(os.environ), broken_plugin))
    assert r.returncode == 0, r.stderr
    rows = {p["name"]: p for p in json.loads(r.stdout)}
    broken = rows["broken"]
    assert broken["status"] == "broken: ModuleNotFoundError: No module named 'govesb_sdk_that_is_not_installed'"
    assert (broken["distribution"], broken["version"], broken["source"]) == ("egactl-broken", "0.3.0", "third-party")
    assert rows["ussd"]["source"] == "built-in" and rows["ussd"]["distribution"] == "egactl"


def test_core_commands_unaffected_by_a_broken_plugin(server, broken_plugin):
    env = with_path(dict(server.env, EGACTL_TOKEN=server.admin_token), broken_plugin)
    r = egactl("institutions", "list", "-o", "json", env=env)
    assert r.returncode == 0, r.stderr
    assert [i["code"] for i in json.loads(r.stdout)] == ["RITA"]
    assert r.stderr == ""


def test_running_the_broken_plugin_is_one_line_exit_1(broken_plugin):
    for args in (["broken", "list"], ["broken"], ["broken", "--help"]):
        r = egactl(*args, env=with_path(dict(os.environ), broken_plugin))
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.splitlines() == [
            "error: plugin 'broken' could not be loaded (ModuleNotFoundError: No module named "
            "'govesb_sdk_that_is_not_installed'); reinstall or remove the plugin (`egactl plugins list`)"]
        assert r.stdout == ""
