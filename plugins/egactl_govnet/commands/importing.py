"""egactl govnet import: bulk onboarding from a CSV, through the core's bulk machinery."""

from __future__ import annotations

from typing import Any

from egactl.plugin.cli import CsvFile, DryRun, InvalidInput, Restart, Results, Resume, SkipInvalid, context, enforce
from egactl.plugin.rules import check_email, check_institution_code, normalise_phone
from egactl_govnet import client, rules

COLUMNS = ("institution", "site", "region", "district", "address", "contact_name", "contact_phone", "contact_email",
           "bandwidth", "prefix_length", "pop", "pool")
REQUIRED = ("institution", "site", "region", "bandwidth")


def parse_row(row: dict[str, str], line: int) -> dict[str, Any]:
    """Check a row with the same rules the backend applies; RowError names what is wrong."""
    from egactl.plugin.cli import bulk

    try:
        return _checked_row(row)
    except InvalidInput as exc:  # the rule's own line, naming the column
        raise bulk.RowError(exc.message) from None


def _checked_row(row: dict[str, str]) -> dict[str, Any]:
    def cell(name: str) -> str | None:
        return (row.get(name) or "").strip() or None

    def text(name: str) -> str | None:  # reaches the site's router configuration; the rule names the column
        value = cell(name)
        return enforce(rules.normalise_config_text, value, name) if value else None

    phone, length, pop, pool = cell("contact_phone"), cell("prefix_length"), cell("pop"), cell("pool")
    contact, email = cell("contact_name"), cell("contact_email")
    return {
        "institution": enforce(check_institution_code, (cell("institution") or "").upper()),
        "site": enforce(rules.normalise_site_name, cell("site") or "", flag="site"),
        "region": enforce(rules.normalise_region, cell("region") or "", flag="region"),
        "district": text("district"), "address": text("address"),
        "contact_name": enforce(rules.normalise_contact_name, contact, flag="contact_name") if contact else None,
        "contact_phone": enforce(normalise_phone, phone, flag="contact_phone") if phone else None,
        "contact_email": enforce(check_email, email, flag="contact_email") if email else None,
        "bandwidth": enforce(rules.normalise_bandwidth, cell("bandwidth") or "", flag="bandwidth"),
        "prefix_length": enforce(rules.parse_prefix_length, length, flag="prefix_length") if length else None,
        "pop": enforce(rules.normalise_pop, pop, flag="pop") if pop else None,
        "pool": enforce(rules.normalise_pool_name, pool.lower(), flag="pool") if pool else None,
    }


def import_(file: CsvFile, skip_invalid: SkipInvalid = False, resume: Resume = False, restart: Restart = False,
            results: Results = None, dry_run: DryRun = False):
    """Create sites and open their onboarding requests from a CSV.

    Columns: institution,site,region,bandwidth (required), and district, address,
    contact_name, contact_phone, contact_email, prefix_length, pop, pool.
    Every row is checked before anything is sent; a row already done answers "exists".

    Examples:

      egactl govnet import docs/examples/govnet-kinondoni.csv --dry-run

      egactl govnet import docs/examples/govnet-kinondoni.csv --results kinondoni-results.csv
    """
    from egactl.plugin.cli import bulk

    ctx = context.get()
    job = bulk.Job(name="govnet-import", path=file, required=REQUIRED, parse_row=parse_row,
                   endpoint=client.IMPORT, unique_key=lambda item: f"{item['institution']}/{item['site']}",
                   chunk_size=200, noun="sites")
    summary = bulk.run(ctx, job, skip_invalid=skip_invalid, resume=resume, restart=restart, results=results,
                       dry_run=dry_run)
    bulk.finish_command(ctx, summary)
