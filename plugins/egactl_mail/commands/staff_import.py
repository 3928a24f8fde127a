"""egactl mail import: provision a whole staff list from CSV, resumably.

Columns: ``employee_number, given_name, family_name`` (required), and
``institution`` (or ``--institution``), ``title``, ``department``, ``quota``,
``preferred_name``, ``domain``, ``address`` (optional).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from egactl.plugin.cli import CsvFile, DryRun, Institution, Restart, Results, Resume, SkipInvalid, bulk, context
from egactl.plugin.rules import RuleError, check_institution_code, check_name
from egactl_mail import client, rules
from egactl_mail.commands.common import csv_columns

REQUIRED = ("employee_number", "given_name", "family_name")
OPTIONAL = ("institution", "title", "department", "quota", "preferred_name", "domain", "address")


def row_parser(default_institution: str | None):
    def parse(row: dict[str, str], line: int) -> dict[str, Any]:
        problems = []
        number = rules.normalise_employee_number(row.get("employee_number", ""))
        if not number:
            problems.append("employee_number is empty")
        elif problem := rules.check_employee_number(number):
            problems.append(problem)
        inst = (row.get("institution") or default_institution or "").strip().upper()
        if not inst:
            problems.append("institution is empty")
        elif problem := check_institution_code(inst):
            problems.append(problem)
        given, family = row.get("given_name", ""), row.get("family_name", "")
        for value, what in ((given, "given_name"), (family, "family_name")):
            if problem := rules.check_person_name(value, what):
                problems.append(problem)
        address = rules.normalise_address(row.get("address") or "") or None
        if address and (problem := rules.check_address(address)):
            problems.append(problem)
        preferred = (row.get("preferred_name") or "").strip() or None
        if preferred and (problem := check_name(preferred, "preferred_name")):
            problems.append(problem)
        if not problems and not address:
            try:
                rules.local_part_for(given, family, preferred_name=preferred)
            except rules.UnusableName as exc:
                problems.append(f"{exc} (give an address column for this row)")
        quota = None
        if (row.get("quota") or "").strip():
            try:
                quota = rules.parse_quota(row["quota"])
            except RuleError as exc:
                problems.append(str(exc))
        domain = (row.get("domain") or "").strip().lower() or None
        if domain and (problem := rules.check_domain(domain)):
            problems.append(problem)
        if problems:
            raise bulk.RowError("; ".join(problems))
        item = {"institution": inst, "employee_number": number, "given_name": " ".join(given.split()),
                "family_name": " ".join(family.split())}
        # Only the columns the file has: an absent column means "don't care", so an
        # existing mailbox with a department still counts as the same ("exists").
        for key, value in (("title", row.get("title")), ("department", row.get("department")),
                           ("preferred_name", preferred), ("domain", domain), ("address", address),
                           ("quota_mb", quota)):
            if value is not None and value != "":
                item[key] = value.strip() if isinstance(value, str) else value
        return item
    return parse


def preflight(ctx, file: Path, default_institution: str | None) -> None:
    """Before anything else: may this caller create mailboxes in the file's institutions,
    and do they have a mail domain? A whole-file problem is then one error (exit 4,
    3 or 2), not thousands of failed rows — and no job state is left behind."""
    institutions = set()
    for _, row in bulk.read_csv(file, REQUIRED):
        code = (row.get("institution") or default_institution or "").strip().upper()
        if code and check_institution_code(code) is None:
            institutions.add(code)
    if institutions:
        client.check_import(ctx.api(), sorted(institutions))


def import_(file: CsvFile, institution: Institution = None, skip_invalid: SkipInvalid = False,
            resume: Resume = False, restart: Restart = False, results: Results = None, dry_run: DryRun = False):
    """Create mailboxes for a staff list (CSV); existing identical ones count as done.

    Columns: employee_number, given_name, family_name (required); institution
    (or --institution), title, department, quota, preferred_name, domain,
    address.

    Examples:

      egactl mail import docs/examples/mail-staff.csv -i RITA --dry-run

      egactl mail import docs/examples/mail-staff.csv -i RITA --results out.csv
    """
    ctx = context.get()
    inst = ctx.institution(institution, required=False)
    csv_columns(file, inst)
    job = bulk.Job(name="mail-import", path=file, required=REQUIRED, parse_row=row_parser(inst),
                   endpoint=client.BULK, options={"institution": inst},
                   unique_key=lambda item: f"employee number {item['employee_number']}",
                   chunk_size=500, workers=4, noun="mailboxes")
    preflight(ctx, file, inst)
    summary = bulk.run(ctx, job, skip_invalid=skip_invalid, resume=resume, restart=restart, results=results,
                       dry_run=dry_run)
    if dry_run:
        ctx.io.status(f"dry run: {summary.rows - summary.invalid} valid row(s) would be sent; nothing was changed")
    bulk.finish_command(ctx, summary)
