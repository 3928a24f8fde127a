"""egactl find: one look-up across every service, for the help desk."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl import context
from egactl.errors import NotFound, PartialFailure
from egactl.output import Column

app = typer.Typer(help="Find anything by what it is: a number, an address, a name, a code.", add_completion=False)

COLUMNS = [Column("service"), Column("kind"), Column("reference"), Column("summary"), Column("command", "SHOW WITH"),
           Column("institution", wide=True), Column("rank", wide=True)]


@app.command()
def find(term: Annotated[str, typer.Argument(help="A phone number, e-mail address, employee number, name, USSD code, "
                                                   "IPv4 address or prefix, circuit, host or URL, institution or sender ID.")],
         service: Annotated[Optional[list[str]], typer.Option("--service", help="Only this service (repeatable).")] = None,
         limit: Annotated[int, typer.Option("--limit", "-L", min=1, max=50, help="Results per service at most.")] = 10):
    """Find anything by what it is, in every service at once.

    egactl recognises what TERM is (a phone number in any form, an e-mail
    address, a name in any order and case, a USSD code, an IPv4 address...) and
    asks every service that knows about it, in parallel. Results are grouped by
    service, best match first, each with the command that shows more. The help
    desk sees personal data masked, as everywhere.

    Exit 3 when nothing is found; 6 when a service did not answer (its results
    are missing, the others are shown).

    Examples:

      egactl find 0754123456

      egactl find "juma mr"

      egactl find '*152*07#' -o json
    """
    ctx = context.get()
    answer = ctx.api().get("/api/v1/find", q=term, service=service or None, limit=limit)
    items = answer.get("items", [])
    missing = answer.get("unavailable", [])
    for gap in missing:
        ctx.warn(f"{gap['service']}: {gap['reason']}; its results are missing")
    if not items and not missing:
        raise NotFound(f"nothing found for {term!r}",
                       hint="try another form (a number, an address, a name), or --service to narrow")
    ctx.render(items, COLUMNS, empty=f"Nothing found for {term!r}.")
    if missing:
        raise PartialFailure(f"{len(missing)} service(s) did not answer: {', '.join(g['service'] for g in missing)}")
