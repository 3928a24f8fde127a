"""One plugin failing does not take down the rest.

A third-party plugin whose backend raises anything — at import (RuntimeError,
SyntaxError) or while the backend starts (its seed, its migrations) — is
skipped with one warning line: the sandbox, `egactl serve` and the other
plugins keep working, and `egactl plugins list` shows it `broken` with the
reason, for its commands and its backend as well as its package.
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

GOOD_BACKEND = '''
from fastapi import APIRouter
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from egactl.plugin import BackendPart
from egactl.server.db import Base, unversioned
from egactl.server.scope import ApiRoute


@unversioned("a test table: the failures tested are the seed's and the history's")
class Thing(Base):
    __tablename__ = "esb_things"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


router = APIRouter(route_class=ApiRoute)


@router.get("/things")
def things():
    return []
'''

BACKENDS = {
    "import-runtime": ("raise RuntimeError('GOVESB_URL is not configured')\n",
                       "backend: RuntimeError: GOVESB_URL is not configured"),
    "import-syntax": ("def broken(:\n", "backend: SyntaxError: "),
    "not-a-part": ("part = 42\n", "backend: egactl_esb.backend:part is not an egactl.plugin.BackendPart"),
    "seed": (GOOD_BACKEND + "def seed(session):\n    raise RuntimeError('no sample data today')\n"
             "part = BackendPart(router=router, tables=[Thing.__table__], seed=seed)\n", None),
    "migration": (GOOD_BACKEND + "part = BackendPart(router=router, tables=[Thing.__table__], "
                  "migrations='egactl_esb.no_such_history')\n", None),
}


def make_plugin(site: Path, backend_source: str, commands_source: str | None = None) -> Path:
    pkg = site / "egactl_esb"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent('''\
        """GovESB: the government enterprise service bus (a test plugin)."""
        from egactl.plugin import Plugin

        plugin = Plugin(name="esb", commands="egactl_esb.commands:app", backend="egactl_esb.backend:part")
        '''))
    (pkg / "commands.py").write_text(commands_source or textwrap.dedent('''\
        import typer

        app = typer.Typer(help="GovESB.", no_args_is_help=True)


        @app.command("ping")
        def ping():
            print("pong")
        '''))
    (pkg / "backend.py").write_text(backend_source)
    dist = site / "egactl_esb-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: egactl-esb\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[egactl.plugins]\nesb = egactl_esb:plugin\n")
    return site


def env_with(site: Path) -> dict:
    env = dict(os.environ)
    return dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])))


def egactl(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egactl", *args], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("case", sorted(BACKENDS))
def test_sandbox_skips_a_broken_backend_with_one_warning(case, tmp_path):
    env = env_with(make_plugin(tmp_path / "site", BACKENDS[case][0]))
    r = egactl(env, "institutions", "list", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 8  # the sandbox, seeded
    assert r.stderr == ""  # with -o json stderr carries only a failure's JSON
    r = egactl(env, "institutions", "list", "--limit", "1")
    warnings = [line for line in r.stderr.splitlines() if "esb" in line]
    assert len(warnings) == 1, r.stderr
    assert warnings[0].startswith("warning: plugin 'esb' skipped: its backend failed (")
    assert "Traceback" not in r.stderr
    # The other plugins keep working, in the same sandbox.
    r = egactl(env, "ussd", "list", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)


@pytest.mark.parametrize("case", ["import-runtime", "import-syntax", "not-a-part"])
def test_plugins_list_shows_the_backend_broken(case, tmp_path):
    source, reason = BACKENDS[case]
    env = env_with(make_plugin(tmp_path / "site", source))
    r = egactl(env, "plugins", "list", "-o", "json")
    assert r.returncode == 0, r.stderr
    rows = {p["name"]: p for p in json.loads(r.stdout)}
    esb = rows["esb"]
    assert esb["status"].startswith(f"broken: {reason}"), esb
    assert (esb["package"], esb["commands"]) == ("ok", "ok")
    assert esb["backend"] == esb["status"]
    assert all(rows[n]["status"] == "ok" for n in ("dr", "govnet", "mail", "sms", "ussd"))


def test_plugins_list_shows_the_commands_broken(tmp_path):
    site = make_plugin(tmp_path / "site", BACKENDS["seed"][0], commands_source="import typer\napp = typer.Typer(\n")
    r = egactl(env_with(site), "plugins", "list", "-o", "json")
    assert r.returncode == 0, r.stderr
    esb = {p["name"]: p for p in json.loads(r.stdout)}["esb"]
    assert esb["status"].startswith("broken: commands: SyntaxError: "), esb
    assert esb["commands"] == esb["status"] and esb["backend"] == "ok"


@pytest.mark.parametrize("case", ["import-runtime", "migration"])
def test_serve_skips_a_broken_backend(case, tmp_path):
    site = make_plugin(tmp_path / "site", BACKENDS[case][0])
    server = start_server(tmp_path, extra_env={"PYTHONPATH": env_with(site)["PYTHONPATH"]})
    try:
        r = server.run("institutions", "list", "-o", "json")
        assert r.returncode == 0, r.stderr
        r = server.run("ussd", "list", "-o", "json")
        assert r.returncode == 0, r.stderr
        r = server.run("api", "GET", "/api/v1/esb/things")
        assert r.returncode == 3, (r.stdout, r.stderr)  # not mounted
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
