"""Government Mail System: mailboxes tied to the HR roster.

Every mailbox is a person's, keyed by their HCMIS employee number. Addresses
are made from names by the institution's naming rule, and an address is never
given out again while it is retained after a delete. `egactl mail reconcile`
keeps the mailboxes in step with the roster (joiners, leavers, movers).
"""

from egactl.plugin import Plugin

plugin = Plugin(name="mail", commands="egactl_mail.commands:app", backend="egactl_mail.server:part")
