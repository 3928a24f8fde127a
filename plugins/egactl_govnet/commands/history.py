"""egactl govnet history: a site's story, from the audit log."""

from __future__ import annotations

from egactl.plugin.cli import DEFAULT_LIMIT, All, Column, Institution, Limit, OldestFirst, context, page_limit
from egactl_govnet import client
from egactl_govnet.commands.common import SiteArg

COLUMNS = [Column("at"), Column("actor"), Column("action"), Column("after.state", "STATE"),
           Column("after.prefix", "PREFIX"), Column("after.vlan", "VLAN"), Column("reason"),
           Column("request_id", "REQUEST ID")]


def history(site: SiteArg, institution: Institution = None, limit: Limit = DEFAULT_LIMIT, all_: All = False,
            oldest_first: OldestFirst = False):
    """Everything that happened to a site, newest first: who, when, what, and the request id.

    Examples:

      egactl govnet history RITA/dodoma-hq

      egactl govnet history RITA/dodoma-hq --oldest-first -o json
    """
    ctx = context.get()
    inst, name = client.site_ref(site, ctx.institution(institution, required=False))
    items = client.site_history(ctx.api(), inst, name, limit=page_limit(limit, all_), oldest_first=oldest_first)
    ctx.render(items, COLUMNS, empty=f"Nothing recorded for {inst}/{name}.")
