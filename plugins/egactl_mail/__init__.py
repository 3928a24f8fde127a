"""Government Mail System: mailboxes tied to the HR roster."""

from egactl.plugin import Plugin

plugin = Plugin(name="mail", commands="egactl_mail.commands:app", backend="egactl_mail.backend:part")
