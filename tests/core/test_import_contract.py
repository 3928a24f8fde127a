"""The plugin SDK's import contract: plugins import nothing of egactl but
``egactl.plugin``, and no plugin imports another.

The contract lives in pyproject.toml ([tool.importlinter]) and is checked with
import-linter's own ``lint-imports``, on this source tree (PYTHONPATH puts it
first). That the check can fail is shown on a synthetic plugin added to the
very same contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
PLUGINS = ("egactl_ussd", "egactl_sms", "egactl_mail", "egactl_govnet", "egactl_dr", "egactl_esb")


def lint_imports(config: Path, *extra_path: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    path = [str(p) for p in (*extra_path, ROOT, ROOT / "plugins")]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), NO_COLOR="1", COLUMNS="200")
    return subprocess.run([*cmd, "--no-cache", "--no-logo", str(config)], cwd=config.parent, env=env,
                          capture_output=True, text=True, timeout=300)


def contract() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]


def test_the_contract_covers_every_built_in_plugin():
    options = contract()
    assert set(PLUGINS) <= set(options["root_packages"])
    by_id = {c["id"]: c for c in options["contracts"]}
    assert set(by_id["sdk-only"]["source_modules"]) == set(PLUGINS)
    assert by_id["sdk-only"]["forbidden_modules"] == ["egactl"]
    assert set(by_id["plugins-independent"]["modules"]) == set(PLUGINS)


def test_plugins_import_only_the_sdk_and_not_each_other():
    r = lint_imports(PYPROJECT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 2 kept, 0 broken." in r.stdout


def with_rogue_plugin(tmp_path: Path, source: str) -> Path:
    """A plugin ``egactl_rogue`` whose backend module is ``source``, added to the project's contract."""
    package = tmp_path / "egactl_rogue"
    package.mkdir()
    (package / "__init__.py").write_text('"""A plugin that breaks the rules."""\n\nfrom egactl.plugin import Plugin\n\n'
                                         'plugin = Plugin(name="rogue", commands="egactl_rogue.backend:app")\n')
    (package / "backend.py").write_text(textwrap.dedent(source))
    options = contract()
    options["root_packages"].append("egactl_rogue")
    for c in options["contracts"]:
        if c["id"] == "sdk-only":
            c["source_modules"].append("egactl_rogue")
            c["ignore_imports"] += ["egactl_rogue -> egactl.plugin", "egactl_rogue.** -> egactl.plugin",
                                    "egactl_rogue.** -> egactl.plugin.*"]
        if c["id"] == "plugins-independent":
            c["modules"].append("egactl_rogue")
    config = tmp_path / "contract.toml"
    config.write_text(tomli_w.dumps({"tool": {"importlinter": options}}), encoding="utf-8")
    return config


@pytest.mark.parametrize("source, imported", [
    ("from egactl.server.models import Institution\n", "egactl.server.models"),
    ("from egactl.server.routes.institutions import require_institution\n", "egactl.server.routes.institutions"),
    ("from egactl import context\n", "egactl.context"),
    ("import egactl.commands\n", "egactl.commands"),
    # An import inside a function counts as much as one at the top.
    ("def later():\n    from egactl.bulk import run\n    return run\n", "egactl.bulk"),
])
def test_a_plugin_importing_the_core_breaks_the_contract(tmp_path, source, imported):
    r = lint_imports(with_rogue_plugin(tmp_path, source), tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Plugins import only egactl.plugin of egactl BROKEN" in r.stdout
    assert f"egactl_rogue.backend -> {imported}" in r.stdout
    assert "Plugins do not import each other KEPT" in r.stdout


def test_a_plugin_importing_another_plugin_breaks_the_contract(tmp_path):
    r = lint_imports(with_rogue_plugin(tmp_path, "from egactl_ussd import rules\n"), tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Plugins do not import each other BROKEN" in r.stdout
    assert "egactl_rogue.backend -> egactl_ussd.rules" in r.stdout


def test_a_plugin_importing_the_sdk_keeps_the_contract(tmp_path):
    source = """\
        from egactl.plugin import BackendPart
        from egactl.plugin.cli import Column, context
        from egactl.plugin.rules import check_name
        from egactl.plugin.server import ApiRoute, audit, visible
        """
    r = lint_imports(with_rogue_plugin(tmp_path, source), tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 2 kept, 0 broken." in r.stdout
