"""The ``egactl govnet`` commands, one module per noun.

The commands are thin: they apply ``egactl_govnet.rules`` (so bad input fails
before anything is sent), call the API through ``egactl_govnet.client``, and
render. The backend decides what is legal and allocates addresses. The
group's help is the package's docstring.
"""

from __future__ import annotations

import typer

from egactl_govnet.commands import ce_config, history, importing, onboardings, pools, sites, status

app = typer.Typer(no_args_is_help=True, add_completion=False)
app.add_typer(pools.app, name="pools")
app.add_typer(sites.app, name="sites")
app.command("onboard")(onboardings.onboard)
for name in onboardings.ACTIONS:
    app.command(name)(getattr(onboardings, name))
app.command("status")(status.status)
app.command("config")(ce_config.config)
app.command("import")(importing.import_)
app.command("history")(history.history)
