"""egactl plugins: what is installed, and whether it loads."""

from __future__ import annotations

import typer

from egactl import context, discovery
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
    be skipped with a warning when the backend starts.
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
                      Column("help", "DESCRIPTION")], empty="No plugins installed.")


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
        found.load_backend()
        backend = "ok"
    except discovery.PluginError as exc:
        backend = f"broken: {exc.reason}"
    return "ok", commands, backend
