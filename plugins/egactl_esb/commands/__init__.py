"""egactl esb: GovESB keys and envelopes (the group's help is the package docstring).

The commands module is imported on every ``egactl esb …`` call, so it and its
submodules import only typer and the SDK at import time; the ``cryptography``
primitives (``egactl_esb.rules``) load when a command runs.
"""

from __future__ import annotations

import typer

from egactl_esb.commands import envelopes, keys, payloads

app = typer.Typer(no_args_is_help=True, add_completion=False)  # its help is the package's docstring
app.command("keygen")(keys.keygen)
app.command("sign")(envelopes.sign)
app.command("verify")(envelopes.verify)
app.command("encrypt")(payloads.encrypt)
app.command("decrypt")(payloads.decrypt)
