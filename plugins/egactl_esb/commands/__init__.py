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


def _as_send(*preset: str):
    """``esb request|push|nida …``, the bus's own words for its three endpoints, as ``esb send`` with the
    endpoint preset (hidden: one command in help, the integrator's words still work)."""

    def alias(ctx: typer.Context) -> None:
        group = ctx.parent.command
        command = group.get_command(ctx.parent, "send")
        with command.make_context("send", [*preset, *ctx.args], parent=ctx.parent) as sub:
            command.invoke(sub)

    return alias


_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
app.command("request", hidden=True, context_settings=_PASS_THROUGH,
            help="`esb send CODE`: a request to /request.")(_as_send())
app.command("push", hidden=True, context_settings=_PASS_THROUGH,
            help="`esb send --push CODE`: a push to /push-request.")(_as_send("--push"))
app.command("nida", hidden=True, context_settings=_PASS_THROUGH,
            help="`esb send CODE --user-id ID`: a request to /nida-request.")(_as_send())
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
