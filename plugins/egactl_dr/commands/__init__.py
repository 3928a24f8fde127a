"""egactl dr: disaster-recovery readiness of government systems.

The commands module is imported on every ``egactl dr …`` call, so it and its
submodules import only typer and the SDK; the probes (asyncio, ssl, httpx's
async client) load when ``check`` runs (``commands/check/``).
"""

from __future__ import annotations

import typer

from egactl.plugin.cli import formerly_group

from egactl_dr.commands import check, drills, history, report, systems

app = typer.Typer(no_args_is_help=True, add_completion=False)  # its help is the package's docstring
app.add_typer(systems.app, name="systems")
app.command("check")(check.check)
app.command("report")(report.report)
app.command("history")(history.history)
app.add_typer(drills.app, name="drills")
formerly_group(app, "drill", drills.app)  # `dr drill start/finish` until the next release
