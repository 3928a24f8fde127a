"""egactl govnet: onboarding institutions' sites onto the government WAN.

The commands are thin: they validate input with ``egactl_govnet.validation``
(so bad input fails before anything is sent), call the API, and render. The
backend decides what is legal and allocates addresses.
"""

from __future__ import annotations

import typer

from egactl_govnet.commands import ce_config, history, importing, lifecycle, pipeline, pools, sites

app = typer.Typer(help="GovNet: onboarding institutions onto the government WAN.", no_args_is_help=True,
                  add_completion=False)
app.add_typer(pools.app, name="pools")
app.add_typer(sites.app, name="sites")
app.command("onboard")(lifecycle.onboard)
for name in ("approve", "provision", "activate", "suspend", "resume", "offboard"):
    app.command(name)(getattr(lifecycle, name))
app.command("status")(pipeline.status)
app.command("config")(ce_config.config)
app.command("import")(importing.import_)
app.command("history")(history.history)
