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
    """Name, version and distribution of each plugin, and whether it loads."""
    ctx = context.get()
    rows = []
    for name, found in discovery.found().items():
        dist, version = found.distribution
        try:
            found.load()
            status = "ok"
        except discovery.PluginError as exc:
            status = f"broken: {exc.reason}"
        rows.append({"name": name, "version": version, "distribution": dist,
                     "source": "built-in" if dist == BUILTIN_DISTRIBUTION else "third-party",
                     "help": found.help(), "status": status})
    ctx.render(rows, [Column("name"), Column("version"), Column("distribution"), Column("source"), Column("status"),
                      Column("help", "DESCRIPTION")], empty="No plugins installed.")
