"""egactl privacy: a data subject's report and erasure, and the retention of personal data (PDPA 2022)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl import context
from egactl.errors import InvalidInput
from egactl.options import DryRun, Yes
from egactl.output import Column, delimited_writer
from egactl.paths import write_private

app = typer.Typer(help="A data subject's report and erasure; the retention of personal data.",
                  no_args_is_help=True, add_completion=False)
retention_app = typer.Typer(help="How long personal data is kept.", no_args_is_help=True, add_completion=False)
app.add_typer(retention_app, name="retention")

Subject = Annotated[str, typer.Argument(help="The person: a phone number in any form, or an employee number.")]
Case = Annotated[str, typer.Option("--case", help="The reference of the request (required; it is audited).")]

def _details(data: dict[str, Any] | None) -> str:
    """The held fields on one line: ``phone=+255754111222, state=delivered`` (nested values as JSON)."""
    shown = [f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
             for k, v in (data or {}).items() if v not in (None, "", {}, [])]
    return ", ".join(shown)


ITEMS = [Column("service"), Column("kind"), Column("reference"), Column("institution"),
         Column("data", "DETAILS", format=_details)]
RETENTION = [Column("service"), Column("name", "DATA CLASS"), Column("what"), Column("days", "KEPT (DAYS)"),
             Column("after", "FROM"), Column("due", "DUE NOW")]
ERASED = [Column("service"), Column("what"), Column("count")]


@app.command("report")
def report(subject: Subject, case: Case,
           export: Annotated[Optional[Path], typer.Option("--export", help="Also write FILE.zip for the subject: "
                                                          "JSON and CSV per service (readable only by you).",
                                                          metavar="FILE.zip")] = None):
    """Everything egactl's services hold about a person.

    Messages with their texts and states, opt-outs, group memberships, the
    mailbox and its aliases, GovNet site contacts, and the audit entries that
    name the person, in every institution you may read (admins: all). The
    request is itself audited under --case, without the personal data.

    Examples:

      egactl privacy report 0754111222 --case PDPA-2026-014

      egactl privacy report 0754111222 --case PDPA-2026-014 --export subject.zip

      egactl privacy report 0754111222 --case PDPA-2026-014 -o json
    """
    ctx = context.get()
    if export is not None and export.suffix.lower() != ".zip":
        raise InvalidInput(f"--export must name a .zip file, not {str(export)!r}")
    # No Idempotency-Key: a report changes nothing but the audit log, and its answer must not be kept.
    answer = ctx.api().request("POST", "/api/v1/privacy/reports", json_body={"subject": subject, "case": case}).json()
    if export is not None:
        write_private(export, _zip(answer))
    if ctx.fmt in ("json", "jsonl"):
        ctx.render(answer)
    else:
        counts = answer.get("counts", {})
        if counts:
            ctx.io.out.write(f"{subject}: {sum(counts.values())} item(s) — "
                             + ", ".join(f"{service} {n}" for service, n in sorted(counts.items())) + "\n")
        ctx.render(answer.get("items", []), ITEMS, empty=f"Nothing is held about {subject} that you may read.")
    if export is not None:
        ctx.success(f"wrote {export} (readable only by you): hand it to the subject, then delete it")


def _zip(answer: dict[str, Any]) -> bytes:
    """report.json (everything) and one CSV per service, cells safe for spreadsheets."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("report.json", json.dumps(answer, indent=2, ensure_ascii=False))
        by_service: dict[str, list[dict[str, Any]]] = {}
        for item in answer.get("items", []):
            by_service.setdefault(item["service"], []).append(item)
        for service, items in sorted(by_service.items()):
            fields = sorted({k for item in items for k in (item.get("data") or {})})
            text = io.StringIO()
            writer = delimited_writer(text)
            writer.writerow(["kind", "reference", "institution", *fields])
            for item in items:
                data = item.get("data") or {}
                writer.writerow([item["kind"], item["reference"], item.get("institution") or "",
                                 *(_cell(data.get(f)) for f in fields)])
            z.writestr(f"{service}.csv", text.getvalue())
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@app.command("erase")
def erase(subject: Subject, case: Case, dry_run: DryRun = False, yes: Yes = False):
    """Erase a person's personal data in every service (admins).

    Removes the number from contact groups, pseudonymises the messages sent to
    it (a keyed hash replaces the number, the text is dropped; states and costs
    stay for reports) and keeps an opt-out as the hash, so the person stays
    opted out. The audit entries that name the person name the hash instead.
    --dry-run shows the counts per service first. Staff data follows the
    mailbox's lifecycle (see docs/privacy.md).

    Examples:

      egactl privacy erase 0754111222 --case PDPA-2026-014 --dry-run

      egactl privacy erase 0754111222 --case PDPA-2026-014 --yes
    """
    ctx = context.get()
    if not dry_run:
        ctx.confirm(f"Erase the personal data of {subject} in every service? This cannot be undone.", yes=yes)
    answer = ctx.api().post("/api/v1/privacy/erasures", {"subject": subject, "case": case}, dry_run=dry_run)
    rows = [{"service": service, "what": what, "count": n}
            for service, counts in sorted(answer.get("erased", {}).items()) for what, n in counts.items()]
    if ctx.fmt in ("json", "jsonl"):
        ctx.render(dict(answer, dry_run=dry_run))
        return
    ctx.render(rows, ERASED, empty=f"Nothing personal about {subject} was held.")
    if dry_run:
        ctx.success("dry run: nothing was changed; run again without --dry-run to erase")
    elif rows:
        ctx.success(f"erased; the subject is now {answer['subject']} (case {case})")


@retention_app.command("show")
def retention_show():
    """How long each class of personal data is kept, and what the next run would make anonymous.

    The server pseudonymises data past its period (a keyed hash replaces a
    number, texts are dropped, names blanked; counts, states and costs stay).
    A server changes a period with EGACTL_PRIVACY_<SERVICE>_<CLASS>_DAYS.

    Examples:

      egactl privacy retention show

      egactl privacy retention show -o json
    """
    ctx = context.get()
    classes = ctx.api().get("/api/v1/privacy/retention")
    if ctx.fmt not in ("json", "jsonl"):  # for people: a count that stopped at its cap says so
        classes = [dict(c, due=f"more than {c['due']:,}") if c.get("due_at_least") else c for c in classes]
    ctx.render(classes, RETENTION, empty="No service keeps personal data.")

