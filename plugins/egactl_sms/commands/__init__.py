"""egactl sms: GovSMS quick, group and bulk sends, and the look-ups around them.

Every command here is a thin typer function over ``egactl_sms.client``; the
rules (numbers, sender IDs, encoding, templates, time) are in
``egactl_sms.validation`` and ``egactl_sms.encoding``, shared with the backend.
"""

from __future__ import annotations

import typer

from egactl_sms.commands import cancelling, groups, messages, optouts, senders, sending

app = typer.Typer(help="GovSMS: quick, group and bulk SMS to citizens.", no_args_is_help=True)

app.command("send")(sending.send)
app.command("bulk")(sending.bulk_send)
app.command("cancel")(cancelling.cancel)
app.command("status")(messages.status)
app.command("list")(messages.list_)
app.command("report")(messages.report)
app.command("batches")(messages.batches)
app.command("outbox")(messages.outbox)
app.add_typer(groups.app, name="group")
app.add_typer(senders.app, name="senders")
app.add_typer(optouts.app, name="optout")
