"""egactl sms: GovSMS quick, group and bulk sends, and the look-ups around them.

Every command here is a thin typer function over ``egactl_sms.client``; the
rules (numbers, sender IDs, encoding, templates, time) are in
``egactl_sms.rules`` and ``egactl_sms.encoding``, shared with the backend. The
group's help is the plugin's docstring (``egactl_sms/__init__.py``).
"""

from __future__ import annotations

import typer

from egactl.plugin.cli import formerly
from egactl_sms.commands import batches, groups, messages, optouts, outbox, senders

app = typer.Typer(no_args_is_help=True)

app.command("send")(messages.send)
app.command("bulk")(batches.bulk_send)
app.command("cancel")(batches.cancel)
formerly(app, "status")(app.command("show")(messages.show))
app.command("list")(messages.list_)
app.command("report")(batches.report)
app.command("batches")(batches.batches)
app.command("outbox")(outbox.outbox)
app.add_typer(groups.app, name="group")
app.add_typer(senders.app, name="senders")
app.add_typer(optouts.app, name="optout")
