"""The commands of ``egactl mail``, one module per noun.

Commands are thin: options in, one API call (through ``egactl_mail.client``),
records out. Rules shared with the server live in ``egactl_mail.rules``.
"""

from __future__ import annotations

import typer

from egactl.plugin.cli import formerly

from egactl_mail.commands import aliases, domains, lists, mailboxes, quota, reconcile, staff_import

# No help= here: the help is the package docstring (egactl_mail/__init__.py).
app = typer.Typer(no_args_is_help=True)

app.add_typer(domains.app, name="domains")
app.command()(mailboxes.create)
app.command("list")(mailboxes.list_)
app.command()(mailboxes.show)
app.command()(mailboxes.update)
app.command()(mailboxes.suspend)
formerly(app, "restore")(app.command()(mailboxes.resume))
app.command()(mailboxes.delete)
app.command()(mailboxes.undelete)
app.command()(mailboxes.purge)
app.command("reset-password")(mailboxes.reset_password)
app.add_typer(quota.app, name="quota")
app.add_typer(aliases.app, name="alias")
app.add_typer(lists.app, name="list-group")
app.command("import")(staff_import.import_)
app.command()(reconcile.reconcile)
