"""egactl ussd's commands, one module per noun: codes (the registry and each
code's life), quota, simulate (a session against an application).

Its help is the package's docstring (``egactl_ussd``), set by egactl.
"""

from __future__ import annotations

import typer

from egactl_ussd.commands import codes, quota, simulate

app = typer.Typer(no_args_is_help=True, add_completion=False)
app.command("list")(codes.list_)
app.command("available")(codes.available)
app.command("show")(codes.show)
app.command("history")(codes.history)
app.command("reserve")(codes.reserve)
app.command("assign")(codes.assign)
app.command("suspend")(codes.suspend)
app.command("resume")(codes.resume)
app.command("release")(codes.release)
app.command("update")(codes.update)
app.command("provision")(codes.provision)
app.add_typer(quota.app, name="quota")
app.command("simulate")(simulate.simulate)
