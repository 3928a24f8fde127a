"""egactl esb: GovESB keys, envelopes, the bus connection and the emulator's registry
(the group's help is the package docstring).

The commands module is imported on every ``egactl esb …`` call, so it and its
submodules import only typer and the SDK at import time; the ``cryptography``
primitives (``egactl_esb.rules``) and httpx load when a command runs.
"""

from __future__ import annotations

import typer

from egactl_esb.commands import apis, check, clients, config, envelopes, keys, payloads, send, token

app = typer.Typer(no_args_is_help=True, add_completion=False)  # its help is the package's docstring
app.command("keygen")(keys.keygen)
app.command("sign")(envelopes.sign)
app.command("verify")(envelopes.verify)
app.command("encrypt")(payloads.encrypt)
app.command("decrypt")(payloads.decrypt)
app.command("send")(send.send)
app.command("check")(check.check)

config_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="The profile's GovESB connection: URLs, client, keys (secrets in the keyring).")
config_app.command("set")(config.set_)
config_app.command("show")(config.show)
app.add_typer(config_app, name="config")

token_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="The bus token of the profile's client (OAuth2 client credentials).")
token_app.command("show")(token.show)
app.add_typer(token_app, name="token")

apis_app = typer.Typer(no_args_is_help=True, add_completion=False,
                       help="API codes on the bus: who provides each, at which endpoint, for whom.")
apis_app.command("list")(apis.list_)
apis_app.command("show")(apis.show)
apis_app.command("create")(apis.create)
app.add_typer(apis_app, name="apis")

clients_app = typer.Typer(no_args_is_help=True, add_completion=False,
                          help="Clients of the bus: an institution's systems and the keys they sign with.")
clients_app.command("list")(clients.list_)
clients_app.command("show")(clients.show)
clients_app.command("create")(clients.create)
app.add_typer(clients_app, name="clients")
