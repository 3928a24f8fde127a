"""The plugin guide is enough to build a third-party plugin.

The GovESB plugin of docs/plugins.md, taken from that page and nothing else (every
code block whose info string names a file, ```` ```python file=egactl-esbreg/... ````),
installs with pip into a fresh virtual environment (no system site packages) beside
egactl installed from this checkout, passes its own tests there, and `egactl esbreg
--help` works; so does the skeleton `egactl plugins new` writes, in the same venv.
Both keep data, so both have a schema history from their first release: the wheel pip
built carries its revision scripts, and their own tests, run against what pip
installed, include the history test the guide teaches (the history run from its base
builds what the models declare). The guide's next-release revision is checked too:
without it the plugin's own history test fails on the changed model, with it it passes.
The installed example is also held to egactl's grammar from outside, as
tests/core/test_grammar.py holds the built-in plugins (which it cannot see, the example
not being installed there): every leaf command named by a verb of VERBS with two or
more examples in its help, `endpoints list -o wide` showing more columns than the
table, and creating the same endpoint twice exit 0 "exists" (another URL: exit 5).

The venv gets egactl and its dependencies from the package index pip is configured
with (or its cache), installed without byte-compiling (--no-compile: half the time);
egactl and the plugins are built in the venv itself (--no-build-isolation). Measured
on this 2-core machine while it was shared (load average about 40): the venv made in
8 s, egactl with its dependencies and pytest installed in 28 s (61 s byte-compiling),
each plugin installed and tested in 10-20 s: 72 s for the whole file. Unloaded, a
venv takes 3 s and egactl's install 24 s with pip's cache warm, 39 s cold. Without an
index or a cache it cannot run: that skips on a developer's machine and fails under
CI (CI=true).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
BLOCK = re.compile(r"^```(\w+) file=(\S+)\n(.*?)^```[ \t]*$", re.M | re.S)
NEXT = re.compile(r"^```(\w+) next=(\S+)\n(.*?)^```[ \t]*$", re.M | re.S)
"""A file of the example's next release (a later revision), given in the guide but not part of the first."""
TIMEOUT = 600

def shape(package: str, noun: str) -> set[str]:
    """The files of the one plugin shape, for a plugin with one noun and its first release's schema history."""
    return {"pyproject.toml", f"{package}/__init__.py", f"{package}/rules.py", f"{package}/client.py",
            f"{package}/commands/__init__.py", f"{package}/commands/{noun}.py", f"{package}/server/__init__.py",
            f"{package}/server/models.py", f"{package}/server/schemas.py", f"{package}/server/service.py",
            f"{package}/server/routes/__init__.py", f"{package}/server/routes/{noun}.py",
            f"{package}/server/migrations/__init__.py", f"{package}/server/migrations/0001_release_1.py",
            "tests/conftest.py", f"tests/test_{noun}.py", "tests/test_migrations.py"}


HISTORY_TEST = "tests/test_migrations.py::test_the_history_from_its_base_builds_what_the_models_declare"
"""The test a plugin keeps for its schema history (docs/plugins.md, "Migrations"); the example and the skeleton have it."""


def register(site: Path, name: str) -> Path:
    """``site`` as a folder in which the plugin ``name`` is installed as far as egactl can tell (its entry point)."""
    dist = site / f"egactl_{name}-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: egactl-{name}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[egactl.plugins]\n{name} = egactl_{name}:plugin\n")
    return site


EXAMPLE = shape("egactl_esbreg", "endpoints")


def guide_files(text: str) -> dict[str, str]:
    """Every block of the guide marked with a file: path -> content (a path marked twice is an error)."""
    files: dict[str, str] = {}
    for match in BLOCK.finditer(text):
        path = match.group(2)
        if path in files:
            raise AssertionError(f"docs/plugins.md gives {path} twice")
        files[path] = match.group(3)
    return files


def extract(dest: Path) -> Path:
    """Write the guide's example under ``dest``; returns the plugin's distribution folder."""
    for rel, text in guide_files(GUIDE.read_text(encoding="utf-8")).items():
        path = dest / rel
        assert dest.resolve() in path.resolve().parents, rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return dest / "egactl-esbreg"


def test_the_guide_gives_every_file_of_the_example_once():
    files = guide_files(GUIDE.read_text(encoding="utf-8"))
    assert set(files) == {f"egactl-esbreg/{rel}" for rel in EXAMPLE}
    for rel, text in files.items():
        if rel.endswith(".py"):
            compile(text, rel, "exec")  # whole, valid files
    # The docstring is the package's first statement: it is the plugin's help.
    assert files["egactl-esbreg/egactl_esbreg/__init__.py"].startswith('"""GovESB: ')


def test_the_guides_plugin_declares_its_history_from_the_first_release():
    files = guide_files(GUIDE.read_text(encoding="utf-8"))
    assert 'migrations="egactl_esbreg.server.migrations"' in files["egactl-esbreg/egactl_esbreg/server/__init__.py"]
    first = files["egactl-esbreg/egactl_esbreg/server/migrations/0001_release_1.py"]
    assert 'revision = "0001"' in first and "down_revision = None" in first
    assert 'op.create_table(\n        "esbreg_endpoints",' in first
    assert "history_differences(part, " in files["egactl-esbreg/tests/test_migrations.py"]
    # The section teaching migrations uses the example's table, not one of its own.
    section = GUIDE.read_text(encoding="utf-8").split("\n## Migrations\n", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"op\.(?:create_table|add_column)\(\s*[\"']([a-z_]+)", section)) == {"esbreg_endpoints"}
    assert "alembic_version_esbreg" in section and "tests/test_migrations.py" in section


def test_extracting_refuses_a_file_given_twice():
    twice = "```python file=a/x.py\nA = 1\n```\n\ntext\n\n```python file=a/x.py\nA = 2\n```\n"
    with pytest.raises(AssertionError, match="gives a/x.py twice"):
        guide_files(twice)
    assert guide_files("```python\nuntitled = 1\n```\n") == {}


# -- the fresh venv ----------------------------------------------------------------------------------------


def _unavailable(message: str) -> None:
    """Skip on a developer's machine (no package index); under CI fail, so nothing passes untested."""
    message = f"THIRD-PARTY PLUGIN NOT TESTED: {message}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _clean_env(home: Path) -> dict[str, str]:
    """The environment of a user of that venv: no PYTHONPATH into this checkout, no egactl settings of ours."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EGACTL_", "PYTHON", "VIRTUAL_ENV", "PYTEST", "COV_")) and k != "NO_COLOR"}
    env.update(EGACTL_CONFIG_DIR=str(home / "config"), EGACTL_DATA_DIR=str(home / "data"),
               EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


class Venv:
    def __init__(self, path: Path, env: dict[str, str]):
        self.path, self.env = path, env
        self.python = str(path / "bin" / "python")

    def run(self, *args: str, cwd: Path, **more: str) -> subprocess.CompletedProcess:
        env = dict(self.env, PATH=f"{self.path / 'bin'}{os.pathsep}{self.env.get('PATH', '')}",
                   VIRTUAL_ENV=str(self.path), **more)
        return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)

    def pip_install(self, *args: str) -> subprocess.CompletedProcess:
        return self.run(self.python, "-m", "pip", "install", "-q", "--no-compile", *args, cwd=self.path)

    def pip_install_plugin(self, project: Path) -> None:
        r = self.pip_install("--no-build-isolation", f"{project}[test]")
        assert r.returncode == 0, r.stderr[-3000:]

    def egactl(self, *args: str, cwd: Path, **more: str) -> subprocess.CompletedProcess:
        return self.run(str(self.path / "bin" / "egactl"), *args, cwd=cwd, **more)


def _copy_checkout(dest: Path) -> Path:
    """This checkout as pip should build it: the sources, without build leftovers (pip builds in the tree)."""
    junk = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis",
                                  ".pytest_cache", ".benchmarks", ".ruff_cache", ".venv", "*.db")
    shutil.copytree(ROOT, dest, ignore=junk)
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Venv:
    base = tmp_path_factory.mktemp("third-party")
    env = _clean_env(base)
    started = time.monotonic()
    made = subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    if made.returncode != 0:
        _unavailable(f"python -m venv failed: {made.stderr.strip()[-500:]}")
    created = time.monotonic()
    v = Venv(base / "venv", env)
    # setuptools first, so that egactl and each plugin are built in the venv itself (--no-build-isolation)
    # rather than in a new build environment each (about 10 s apiece).
    for what, args in (("setuptools and pytest", ("setuptools>=70.1", "pytest>=8")),
                       ("egactl from this checkout", ("--no-build-isolation", str(_copy_checkout(base / "src"))))):
        installed = v.pip_install(*args)
        if installed.returncode != 0:
            _unavailable(f"pip could not install {what} in a fresh venv: {installed.stderr.strip()[-800:]}")
    done = time.monotonic()
    print(f"\nfresh venv: created in {created - started:.1f} s, egactl + dependencies + pytest installed in "
          f"{done - created:.1f} s")
    # The venv sees only itself: egactl from the copy installed there, not this checkout.
    where = v.run(v.python, "-c", "import egactl; print(egactl.__file__)", cwd=base)
    assert where.returncode == 0 and where.stdout.startswith(str(v.path)), where.stdout + where.stderr
    yield v
    from conftest import stop_sandbox_servers

    stop_sandbox_servers(base)  # the venv's sandbox commands started its server


def _run_own_tests(v: Venv, project: Path, package: str) -> tuple[str, set[str]]:
    """The plugin's own tests, against the plugin as pip installed it (``-P``: not the source folder they run in).

    Returns pytest's summary line and the ids of the tests that passed."""
    installed = v.run(v.python, "-P", "-c", f"import {package}.server.migrations as m, os; print(m.__path__[0]); "
                      "print(*sorted(os.listdir(m.__path__[0])))", cwd=project)
    assert installed.returncode == 0, installed.stderr
    where, history = installed.stdout.splitlines()
    assert where.startswith(str(v.path)), where  # the wheel's copy, in the venv's site-packages
    assert {"__init__.py", "0001_release_1.py"} <= set(history.split()), history  # the revisions are in the wheel
    r = v.run(v.python, "-P", "-m", "pytest", "-v", "-p", "no:cacheprovider", cwd=project)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    summary = r.stdout.strip().splitlines()[-1].strip("= ")
    assert re.search(r"\d+ passed", summary) and not re.search(r"failed|error|skipped", summary), summary
    passed = set(re.findall(r"^(\S+::\S+) PASSED", r.stdout, re.M))
    return summary, passed


def test_the_guides_govesb_plugin_installs_and_passes_its_own_tests(venv, tmp_path):
    project = extract(tmp_path / "from-the-guide")
    started = time.monotonic()
    venv.pip_install_plugin(project)
    summary, passed = _run_own_tests(venv, project, "egactl_esbreg")
    print(f"\nGovESB from the guide: installed and tested in {time.monotonic() - started:.1f} s ({summary})")
    assert summary.startswith("9 passed"), summary
    assert HISTORY_TEST in passed, passed  # its history, run from the base in the venv, builds its models

    helped = venv.egactl("esbreg", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "GovESB: institutions' system endpoints on the Government Enterprise Service Bus." in \
        " ".join(helped.stdout.split())
    assert "endpoints" in helped.stdout
    listed = venv.egactl("plugins", "list", "-o", "json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    esbreg = {p["name"]: p for p in json.loads(listed.stdout)}["esbreg"]
    assert (esbreg["distribution"], esbreg["source"], esbreg["status"]) == ("egactl-esbreg", "third-party", "ok")
    _speaks_the_grammar(venv, tmp_path)


LEAVES = """
import json
from egactl.cli import command
from egactl.plugin.cli import VERBS

def walk(cmd, ctx):
    if not hasattr(cmd, "list_commands"):
        yield ctx.command_path, cmd.help or ""
        return
    for name in cmd.list_commands(ctx):
        sub = cmd.get_command(ctx, name)
        yield from walk(sub, sub.make_context(name, [], parent=ctx, resilient_parsing=True))

root = command()
top = root.make_context("egactl", [], resilient_parsing=True)
esbreg = root.get_command(top, "esbreg")
print(json.dumps({"verbs": sorted(VERBS), "leaves": dict(walk(esbreg, esbreg.make_context("esbreg", [], parent=top,
                                                                                      resilient_parsing=True)))}))
"""
"""The installed egactl's command tree under `egactl esbreg`, each leaf with its help, and egactl's VERBS."""


def _examples(path: str, text: str) -> list[str]:
    """The invocations of ``path`` under ``Examples:`` in a command's help (as tests/core/test_grammar.py reads them)."""
    after = text.split("Examples:", 1)[1] if "Examples:" in text else ""
    return [line.strip() for line in after.splitlines() if line.strip().startswith(f"{path} ")]


def _headers(out: str) -> list[str]:
    return out.splitlines()[0].split() if out.strip() else []


def _speaks_the_grammar(v: Venv, tmp_path: Path) -> None:
    """The guide's plugin as pip installed it, held to egactl's grammar from outside, as tests/core/test_grammar.py
    holds the built-in ones: every leaf's verb in VERBS and >= 2 examples in its help, `list -o wide` shows more
    columns than the table, and creating the same endpoint twice is exit 0 "exists" (another URL: exit 5)."""
    tree = v.run(v.python, "-P", "-c", LEAVES, cwd=tmp_path)
    assert tree.returncode == 0, tree.stderr
    found = json.loads(tree.stdout)
    leaves = found["leaves"]
    assert {path.split(" ", 2)[2] for path in leaves} == {
        "endpoints list", "endpoints create", "endpoints show", "endpoints update", "endpoints suspend",
        "endpoints resume", "endpoints delete"}, sorted(leaves)
    strays = [path for path in leaves if path.split()[-1] not in found["verbs"]]
    assert not strays, f"verbs outside egactl.grammar.VERBS: {strays}"
    few = {path: _examples(path, text) for path, text in leaves.items() if len(_examples(path, text)) < 2}
    assert not few, f"commands whose --help has fewer than two examples: {few}"
    helped = v.egactl("esbreg", "endpoints", "create", "--help", cwd=tmp_path, COLUMNS="200")
    assert helped.returncode == 0, helped.stderr
    assert len(_examples("egactl esbreg endpoints create", helped.stdout)) >= 2, helped.stdout

    # A fresh sandbox of its own: the list's first example shows the seeded endpoint, wide with more columns.
    sandbox = {"EGACTL_DATA_DIR": str(tmp_path / "grammar-data"), "EGACTL_CONFIG_DIR": str(tmp_path / "grammar-config")}
    first = shlex.split(_examples("egactl esbreg endpoints list", leaves["egactl esbreg endpoints list"])[0])[1:]
    table = v.egactl(*first, "-o", "table", cwd=tmp_path, **sandbox)
    wide = v.egactl(*first, "-o", "wide", cwd=tmp_path, **sandbox)
    assert table.returncode == 0 and wide.returncode == 0, table.stderr + wide.stderr
    assert len(_headers(wide.stdout)) > len(_headers(table.stdout)) > 0, (table.stdout, wide.stdout)
    assert set(_headers(table.stdout)) < set(_headers(wide.stdout)), (table.stdout, wide.stdout)
    # The create of its help's first example is "exists" there (the seed holds it); so is any create run twice.
    seeded = shlex.split(_examples("egactl esbreg endpoints create", leaves["egactl esbreg endpoints create"])[0])[1:]
    assert seeded[:4] == ["esbreg", "endpoints", "create", "RITA/crvs"], seeded
    assert "exists" in v.egactl(*seeded, cwd=tmp_path, **sandbox).stderr
    create = ("esbreg", "endpoints", "create", "TRA/idras", "--url", "https://idras.tra.go.tz/esb")
    made = v.egactl(*create, cwd=tmp_path, **sandbox)
    assert made.returncode == 0 and "Created TRA/idras on the bus" in made.stderr, made.stdout + made.stderr
    again = v.egactl(*create, cwd=tmp_path, **sandbox)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "TRA/idras exists with this URL and kind; nothing changed" in again.stderr, again.stderr
    other = v.egactl(*create[:5], "https://esb.tra.go.tz/idras", cwd=tmp_path, **sandbox)
    assert other.returncode == 5, other.stdout + other.stderr
    assert "error: TRA/idras already has an endpoint with another url" in other.stderr, other.stderr
    rows = json.loads(v.egactl("esbreg", "endpoints", "list", "-o", "json", cwd=tmp_path, **sandbox).stdout)
    assert sorted((e["institution"], e["system"], e["url"]) for e in rows) == [
        ("RITA", "crvs", "https://crvs.rita.go.tz/esb"), ("TRA", "idras", "https://idras.tra.go.tz/esb")]


def test_the_templates_skeleton_installs_and_passes_its_own_tests(venv, tmp_path):
    started = time.monotonic()
    made = venv.egactl("plugins", "new", "pepmis", cwd=tmp_path)  # the template shipped in the installed egactl
    assert made.returncode == 0, made.stderr
    project = tmp_path / "egactl-pepmis"
    venv.pip_install_plugin(project)
    summary, passed = _run_own_tests(venv, project, "egactl_pepmis")
    print(f"\nskeleton of `egactl plugins new`: written, installed and tested in {time.monotonic() - started:.1f} s "
          f"({summary})")
    assert HISTORY_TEST in passed, passed
    helped = venv.egactl("pepmis", "records", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "create" in helped.stdout and "delete" in helped.stdout


# -- what the frame enforces, on the guide's own plugin ----------------------------------------------------

FORGOTTEN = {
    "the frame": ("egactl_esbreg/server/routes/endpoints.py", 'APIRouter(route_class=ApiRoute, tags=["esbreg"])',
                  'APIRouter(tags=["esbreg"])', "route /endpoints is a APIRoute, not an egactl ApiRoute"),
    "locking": ("egactl_esbreg/server/models.py", "class Endpoint(Versioned, Base):", "class Endpoint(Base):",
                "(esbreg_endpoints): neither Versioned nor declared @unversioned(reason)"),
}


def _as_installed(tmp_path: Path, forget: str | None) -> dict[str, str]:
    """The guide's plugin, maybe with one thing forgotten, importable and registered (its entry point)."""
    project = extract(tmp_path / "guide")
    if forget:
        rel, before, after, _ = FORGOTTEN[forget]
        source = project / rel
        assert before in source.read_text()
        source.write_text(source.read_text().replace(before, after))
    site = register(tmp_path / "site", "esbreg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "plugins"), str(site), str(project)]),
               EGACTL_CONFIG_DIR=str(tmp_path / "config"), EGACTL_DATA_DIR=str(tmp_path / "data"),
               EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1")
    return env


def _egactl(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egactl", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("forget", sorted(FORGOTTEN))
def test_the_guides_plugin_without_the_frame_or_locking_is_not_mounted(tmp_path, forget):
    env = _as_installed(tmp_path, forget)
    reason = FORGOTTEN[forget][3]
    listed = _egactl(env, tmp_path, "plugins", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    esbreg = {p["name"]: p for p in json.loads(listed.stdout)}["esbreg"]
    assert esbreg["status"].startswith("broken: backend: not mounted: ") and reason in esbreg["status"], esbreg["status"]
    assert (esbreg["package"], esbreg["commands"]) == ("ok", "ok")
    # The sandbox leaves it out, with one warning, and serves none of its routes.
    r = _egactl(env, tmp_path, "esbreg", "endpoints", "list")
    assert r.returncode == 3, r.stdout + r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: plugin 'esbreg' skipped")]
    assert len(warnings) == 1 and reason in warnings[0], r.stderr
    assert "error: no such API path: GET /api/v1/esbreg/endpoints" in r.stderr, r.stderr
    # With -o json, stderr is the one JSON object of the failure: the warning is left out there.
    r = _egactl(env, tmp_path, "esbreg", "endpoints", "list", "-o", "json")
    assert r.returncode == 3 and r.stdout == "", r.stdout + r.stderr
    assert json.loads(r.stderr)["problem"]["instance"] == "/api/v1/esbreg/endpoints", r.stderr


def test_the_guides_plugin_as_written_is_mounted(tmp_path):
    env = _as_installed(tmp_path, None)
    listed = _egactl(env, tmp_path, "plugins", "list", "-o", "json")
    assert {p["name"]: p for p in json.loads(listed.stdout)}["esbreg"]["status"] == "ok"
    r = _egactl(env, tmp_path, "esbreg", "endpoints", "list", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert [(e["institution"], e["system"], e["state"]) for e in json.loads(r.stdout)] == [("RITA", "crvs", "active")]
    assert "esbreg" not in r.stderr  # mounted: no warning about it


CONTACT = "    contact: Mapped[str | None] = mapped_column(String(200))\n"
"""The model change of the guide's "Every later change: a revision"."""


def _own_history_test(env: dict[str, str], project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "--rootdir",
                           str(project), "tests/test_migrations.py"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_guides_history_test_catches_a_model_changed_without_its_revision(tmp_path):
    """The guide's next release: its own history test fails on the model change alone, naming the column the
    history lacks, and passes once the revision the guide gives for it is added."""
    guide = GUIDE.read_text(encoding="utf-8")
    assert f"```python\n{CONTACT}```" in guide
    later = {m.group(2): m.group(3) for m in NEXT.finditer(guide)}
    assert set(later) == {"egactl-esbreg/egactl_esbreg/server/migrations/0002_endpoint_contact.py"}
    env = _as_installed(tmp_path, None)
    project = tmp_path / "guide" / "egactl-esbreg"
    assert _own_history_test(env, project).returncode == 0  # the first release, as written

    models = project / "egactl_esbreg" / "server" / "models.py"
    last = "    registered_by: Mapped[str] = mapped_column(String(200))\n"
    assert last in models.read_text()
    models.write_text(models.read_text().replace(last, last + CONTACT))
    r = _own_history_test(env, project)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "('add_column', None, 'esbreg_endpoints', Column('contact', String(length=200)" in r.stdout, r.stdout

    for rel, text in later.items():
        (tmp_path / "guide" / rel).write_text(text, encoding="utf-8")
    r = _own_history_test(env, project)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout
