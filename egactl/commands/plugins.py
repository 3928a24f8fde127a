"""egactl plugins: what is installed, whether it loads, and a new plugin in the one plugin shape."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from egactl import context, discovery
from egactl.errors import Conflict, EgactlError, InvalidInput
from egactl.options import DryRun
from egactl.output import Column

app = typer.Typer(help="Installed service plugins.", no_args_is_help=True, add_completion=False)

BUILTIN_DISTRIBUTION = "egactl"


@app.callback()
def _group() -> None:
    """Installed service plugins."""


@app.command("list")
def list_():
    """Name, version and distribution of each plugin, and whether it loads.

    Each plugin is imported here — its package, its commands and its backend
    part — so that a plugin broken in any of them shows as `broken` with the
    reason ("broken: backend: RuntimeError: …"), where otherwise it would only
    be skipped with a warning when the backend starts. So does a backend part
    the backend would not mount: a route outside the route frame, a table
    neither versioned nor declared unversioned ("broken: backend: not mounted: …").
    -o wide adds the state of each part: package, commands, backend.

    Examples:

      egactl plugins list

      egactl plugins list -o json --query "[?status!='ok'].name"
    """
    ctx = context.get()
    rows = []
    for name, found in discovery.found().items():
        dist, version = found.distribution
        package, commands, backend = _check(found)
        problems = [p for p in (package, commands, backend) if p.startswith("broken")]
        status = problems[0] if problems else "ok"
        rows.append({"name": name, "version": version, "distribution": dist,
                     "source": "built-in" if dist == BUILTIN_DISTRIBUTION else "third-party",
                     "help": found.help(), "status": status, "package": package, "commands": commands,
                     "backend": backend})
    ctx.render(rows, [Column("name"), Column("version"), Column("distribution"), Column("source"), Column("status"),
                      Column("help", "DESCRIPTION"), Column("package", wide=True), Column("commands", wide=True),
                      Column("backend", wide=True)], empty="No plugins installed.")


def _check(found: discovery.Found) -> tuple[str, str, str]:
    """("ok" | "broken: reason") for the package, its commands and its backend ("none": client-only)."""
    try:
        plugin = found.load()
    except discovery.PluginError as exc:
        reason = f"broken: {exc.reason}"
        return reason, reason, reason
    try:
        found.load_commands()
        commands = "ok"
    except discovery.PluginError as exc:
        commands = f"broken: {exc.reason}"
    if not plugin.backend:
        return "ok", commands, "none"
    try:
        part = found.load_backend()
    except discovery.PluginError as exc:
        return "ok", commands, f"broken: {exc.reason}"
    from egactl.server.app import check_mountable

    try:  # what would keep the backend from mounting it: a route outside the frame, a table without locking
        check_mountable(part)
    except RuntimeError as exc:
        return "ok", commands, f"broken: backend: not mounted: {exc}"
    return "ok", commands, "ok"


# -- egactl plugins new ---------------------------------------------------------------------

NAME = re.compile(r"[a-z][a-z0-9]{1,19}")
RESERVED = frozenset({"tokens"})
"""Names a plugin cannot take besides the core command groups: the core's own API paths (/api/v1/<name>)."""

TEMPLATE = ("templates", "plugin")
"""The skeleton's templates, inside the egactl package: Jinja2 files named ``<file>.j2``; the folder
``package`` becomes the plugin's package ``egactl_<name>``."""


@app.command()
def new(name: Annotated[str, typer.Argument(help="The plugin's name: the command egactl NAME, the package "
                                                 "egactl_NAME, the API /api/v1/NAME.")],
        dir_: Annotated[Optional[Path], typer.Option("--dir", metavar="PATH",
                                                     help="Where to write it (default: ./egactl-NAME); it must not "
                                                          "exist, or be an empty directory.")] = None,
        dry_run: DryRun = False):
    """Write a new plugin in the one plugin shape, with its own passing tests.

    The plugin has one noun (records: list, create, show, delete), a versioned table
    with its schema history (an Alembic first revision), routes in the frame, its
    rules, its API client and tests using
    egactl.plugin.testing; see docs/plugins.md. Nothing is written if anything fails.
    Then: pip install -e ./egactl-pepmis

    Examples:

      egactl plugins new pepmis

      egactl plugins new pepmis --dir ~/src/egactl-pepmis --dry-run
    """
    ctx = context.get()
    _check_name(name)
    target = dir_ if dir_ is not None else Path(f"egactl-{name}")
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise Conflict(f"{target} already exists and is not empty; nothing was written",
                       hint="choose another --dir")
    if not target.parent.is_dir():
        raise InvalidInput(f"--dir: {target.parent} is not a directory; nothing was written")
    files = render_skeleton(name)
    if dry_run:
        ctx.io.status(f"dry run: would write {len(files)} files to {target}; nothing was written")
        ctx.render([{"file": str(target / rel)} for rel in files], [Column("file")])
        return
    try:
        _write_tree(target, files)
    except FileExistsError:
        raise Conflict(f"{target} already exists and is not empty; nothing was written",
                       hint="choose another --dir") from None
    except OSError as exc:
        raise EgactlError(f"could not write {target} ({exc.strerror or exc}); nothing was written") from None
    ctx.success(f"Wrote plugin {name} to {target}: pip install -e '{target}[test]', then run its tests there")
    ctx.render({"name": name, "package": f"egactl_{name}", "distribution": f"egactl-{name}", "path": str(target),
                "files": len(files)},
               [Column("name"), Column("package"), Column("distribution"), Column("path"), Column("files")])


def _check_name(name: str) -> None:
    from egactl.cli import CORE_GROUPS

    if not NAME.fullmatch(name):
        raise InvalidInput(f"plugin name {name!r} must be 2-20 lower-case letters and digits, starting with a letter "
                           "(e.g. pepmis); nothing was written")
    if name in CORE_GROUPS or name in RESERVED:
        raise InvalidInput(f"plugin name {name!r} is taken by egactl itself; nothing was written")
    if name in discovery.found():
        raise Conflict(f"a plugin named {name!r} is already installed; nothing was written",
                       hint="`egactl plugins list` shows it")


def render_skeleton(name: str) -> dict[str, str]:
    """The skeleton's files, rendered in memory: relative path -> text."""
    from importlib.resources import files

    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    values = {"name": name, "package": f"egactl_{name}", "distribution": f"egactl-{name}",
              "egactl_version": _egactl_version()}
    root = files("egactl").joinpath(*TEMPLATE)
    out: dict[str, str] = {}

    def walk(folder, parts: tuple[str, ...]) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                if entry.name != "__pycache__":
                    walk(entry, parts + (values["package"] if entry.name == "package" and not parts else entry.name,))
            elif entry.name.endswith(".j2"):
                rel = "/".join(parts + (entry.name.removesuffix(".j2"),))
                out[rel] = env.from_string(entry.read_text(encoding="utf-8")).render(values)

    walk(root, ())
    if not out:
        raise EgactlError("the plugin template is missing from this egactl installation", hint="reinstall egactl")
    return out


def _egactl_version() -> str:
    from egactl import __version__

    return __version__


def _write_tree(target: Path, files: dict[str, str]) -> None:
    """Write ``files`` under ``target`` all at once: into a hidden folder beside it, then one rename.

    Files are 0644 and folders 0755 whatever the umask; if anything fails, the
    hidden folder is removed and ``target`` is as it was.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel, text in files.items():
            path = staging / rel
            for folder in reversed(path.relative_to(staging).parents[:-1]):
                (staging / folder).mkdir(exist_ok=True)
                os.chmod(staging / folder, 0o755)
            _write_file(path, text)
        os.chmod(staging, 0o755)
        if target.exists():
            target.rmdir()  # empty (checked); fails if something appeared in it meanwhile
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.chmod(path, 0o644)
