"""egactl govnet import: bulk onboarding from a CSV, through the core's bulk machinery."""

from __future__ import annotations

from typing import Any

from egactl.plugin.cli import CsvFile, DryRun, Restart, Results, Resume, SkipInvalid, context
from egactl.plugin.rules import check_email, check_institution_code
from egactl_govnet import validation
from egactl_govnet.client import BASE

COLUMNS = ("institution", "site", "region", "district", "address", "contact_name", "contact_phone", "contact_email",
           "bandwidth", "prefix_length", "pop", "pool")
REQUIRED = ("institution", "site", "region", "bandwidth")


def parse_row(row: dict[str, str], line: int) -> dict[str, Any]:
    """Check a row with the same rules the backend applies; RowError names what is wrong."""
    from egactl.plugin.cli import bulk

    def cell(name: str) -> str | None:
        return (row.get(name) or "").strip() or None

    def ruled(name: str, check, value):
        try:
            return check(value)
        except ValueError as exc:
            raise bulk.RowError(f"{name}: {exc}") from None

    def text(name: str) -> str | None:  # reaches the site's router configuration
        value = cell(name)
        try:
            return validation.check_config_text(value, name) if value else None
        except ValueError as exc:
            raise bulk.RowError(str(exc)) from None

    institution = (cell("institution") or "").upper()
    if problem := check_institution_code(institution):
        raise bulk.RowError(problem)
    email = cell("contact_email")
    if email and (problem := check_email(email)):
        raise bulk.RowError(f"contact_email: {problem}")
    phone, length, pop, pool = cell("contact_phone"), cell("prefix_length"), cell("pop"), cell("pool")
    contact = cell("contact_name")
    return {
        "institution": institution,
        "site": ruled("site", validation.check_site_name, cell("site") or ""),
        "region": ruled("region", validation.normalise_region, cell("region") or ""),
        "district": text("district"), "address": text("address"),
        "contact_name": ruled("contact_name", validation.check_contact_name, contact) if contact else None,
        "contact_phone": ruled("contact_phone", validation.normalise_phone, phone) if phone else None,
        "contact_email": email,
        "bandwidth": validation.format_bandwidth(ruled("bandwidth", validation.parse_bandwidth, cell("bandwidth") or "")),
        "prefix_length": ruled("prefix_length", validation.parse_prefix_length, length) if length else None,
        "pop": ruled("pop", validation.normalise_pop, pop) if pop else None,
        "pool": ruled("pool", validation.check_pool_name, pool.lower()) if pool else None,
    }


def import_(file: CsvFile, skip_invalid: SkipInvalid = False, resume: Resume = False, restart: Restart = False,
            results: Results = None, dry_run: DryRun = False):
    """Create sites and open their onboarding requests from a CSV.

    Columns: institution,site,region,bandwidth (required), and district, address,
    contact_name, contact_phone, contact_email, prefix_length, pop, pool.
    Every row is checked before anything is sent; a row already done answers "exists".
    """
    from egactl.plugin.cli import bulk

    ctx = context.get()
    job = bulk.Job(name="govnet-import", path=file, required=REQUIRED, parse_row=parse_row,
                   endpoint=f"{BASE}/import", unique_key=lambda item: f"{item['institution']}/{item['site']}",
                   chunk_size=200, noun="sites")
    summary = bulk.run(ctx, job, skip_invalid=skip_invalid, resume=resume, restart=restart, results=results,
                       dry_run=dry_run)
    bulk.finish_command(ctx, summary)
