"""egactl institutions: the directory of public institutions."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from egactl.completion_values import complete_institutions

from egactl import bulk, context
from egactl.errors import Conflict, InvalidInput
from egactl.grammar import old_flags
from egactl.options import (DEFAULT_LIMIT, All, CsvFile, DryRun, Limit, Restart, Results, Resume, SkipInvalid, Yes,
                            page_limit)
from egactl.output import Column
from egactl.rules import KINDS, check_email, check_institution_code, check_name, normalise_kind

app = typer.Typer(help="The directory of public institutions.", no_args_is_help=True, add_completion=False)

COLUMNS = [Column("code"), Column("name"), Column("kind"), Column("region"), Column("contact_email", "CONTACT"),
           Column("created_at", "CREATED", wide=True)]
DETAIL = [c for c in COLUMNS if not c.wide] + [Column("version"), Column("created_at", "CREATED"),
                                               Column("updated_at", "UPDATED")]

Kind = Annotated[Optional[str], typer.Option("--kind", help=f"One of: {', '.join(KINDS)}.")]


def _kind(value: str | None) -> str | None:
    if value is None:
        return None
    kind = normalise_kind(value)
    if kind:
        return kind
    raise typer.BadParameter(f"must be one of {', '.join(KINDS)}", param_hint="--kind")


@old_flags({"-s": "--search"})  # -s is --state everywhere
@app.command("list")
def list_(kind: Kind = None, region: Annotated[Optional[str], typer.Option(help="Only this region.")] = None,
          search: Annotated[Optional[str], typer.Option("--search", "-S", help="Code or name contains this.")] = None,
          limit: Limit = DEFAULT_LIMIT, all_: All = False):
    """List institutions.

    -o wide adds when each was created.

    Examples:

      egactl institutions list --kind LGA

      egactl institutions list -S revenue -o json

      egactl institutions list --region Dodoma --all -o csv > dodoma.csv
    """
    ctx = context.get()
    items = ctx.api().list("/api/v1/institutions", limit=page_limit(limit, all_), kind=_kind(kind), region=region, q=search)
    ctx.render(items, COLUMNS, empty="No institutions match.")


@app.command()
def show(code: Annotated[str, typer.Argument(help="Institution code, e.g. RITA.", autocompletion=complete_institutions)]):
    """Show one institution.

    Examples:

      egactl institutions show RITA

      egactl institutions show tra -o json --query contact_email
    """
    ctx = context.get()
    ctx.render(ctx.api().get(f"/api/v1/institutions/{code.upper()}"), DETAIL)


@app.command()
def create(code: Annotated[str, typer.Argument(help="Short code, e.g. RITA.")],
           name: Annotated[str, typer.Option(help="Full name.")],
           kind: Annotated[str, typer.Option(help=f"One of: {', '.join(KINDS)}.")],
           region: Annotated[Optional[str], typer.Option(help="Region, e.g. Dodoma.")] = None,
           contact_email: Annotated[Optional[str], typer.Option(help="Contact e-mail.")] = None,
           dry_run: DryRun = False):
    """Add an institution (admin).

    Re-running it is safe: if the institution already exists with exactly these
    values, nothing changes and it exits 0 saying "exists" (with -o json, the
    institution); if the code is taken with other values, it exits 5 naming the
    fields that differ (change them with `egactl institutions update`).

    Examples:

      egactl institutions create MUHAS --name "Muhimbili University of Health and Allied Sciences" --kind other --region "Dar es Salaam"

      egactl institutions create UDSM --name "University of Dar es Salaam" --kind other --dry-run
    """
    ctx = context.get()
    _check_names(name=name, region=region)
    body = {"code": code.upper(), "name": name, "kind": _kind(kind), "region": region, "contact_email": contact_email}
    from egactl.api_client import new_idempotency_key

    try:
        response = ctx.api().request("POST", "/api/v1/institutions", json_body=body,
                                     idempotency_key=new_idempotency_key(), dry_run=dry_run)
    except Conflict as exc:
        if exc.problem and exc.problem.get("differs"):
            exc.hint = f"change it with `egactl institutions update {body['code']}`, or choose another code"
        raise
    record = response.json()
    if response.status_code == 200:  # it is there already, exactly as asked: nothing changed
        ctx.io.status(f"Institution {record['code']} exists with these details; nothing changed")
        ctx.render(record, DETAIL)
        return
    _changed(ctx, record, "create", "Created", dry_run)


@app.command()
def update(code: Annotated[str, typer.Argument(help="Institution code.", autocompletion=complete_institutions)],
           name: Annotated[Optional[str], typer.Option(help="New name.")] = None,
           kind: Kind = None,
           region: Annotated[Optional[str], typer.Option(help="New region.")] = None,
           contact_email: Annotated[Optional[str], typer.Option(help="New contact e-mail ('' to clear).")] = None,
           dry_run: DryRun = False):
    """Change an institution's details.

    Examples:

      egactl institutions update RITA --contact-email ict@rita.go.tz

      egactl institutions update TRA --region Dodoma --dry-run
    """
    ctx = context.get()
    _check_names(name=name, region=region)
    changes = {k: v for k, v in {"name": name, "kind": _kind(kind), "region": region,
                                 "contact_email": contact_email}.items() if v is not None}
    if not changes:
        raise typer.BadParameter("nothing to change; pass at least one of --name, --kind, --region, --contact-email")
    path = f"/api/v1/institutions/{code.upper()}"
    _changed(ctx, ctx.api().update(path, changes, dry_run=dry_run), "update", "Updated", dry_run)


@app.command()
def delete(code: Annotated[str, typer.Argument(help="Institution code.", autocompletion=complete_institutions)], yes: Yes = False, dry_run: DryRun = False):
    """Remove an institution that has no resources left (admin).

    Examples:

      egactl institutions delete ARUSHA-CC --dry-run

      egactl institutions delete ARUSHA-CC --yes
    """
    ctx = context.get()
    path = f"/api/v1/institutions/{code.upper()}"
    current, etag = ctx.api().get_with_etag(path)
    if dry_run:
        ctx.api().request("DELETE", path, if_match=etag, dry_run=True)
        ctx.io.status(f"dry run: would delete institution {current['code']} (checked by the backend; nothing stored)")
        return
    ctx.confirm(f"Delete institution {current['code']} ({current['name']})?", yes=yes)
    ctx.api().request("DELETE", path, if_match=etag)
    ctx.success(f"Deleted institution {current['code']}")


def _changed(ctx: Any, record: dict[str, Any], verb: str, done: str, dry_run: bool) -> None:
    """The backend's answer to a change: what it did, or (a dry run) what it would do."""
    if dry_run:
        ctx.io.status(f"dry run: would {verb} institution {record['code']} (checked by the backend; nothing stored)")
    else:
        ctx.success(f"{done} institution {record['code']}")
    ctx.render(record, DETAIL)


def _check_names(**values: str | None) -> None:
    """Fail fast, before anything is sent, with the backend's rule for names."""
    for what, value in values.items():
        if value is not None and (problem := check_name(value.strip(), what)):
            raise InvalidInput(problem)


def _parse_row(row: dict[str, str], line: int) -> dict:
    code = row.get("code", "").strip().upper()
    if not code:
        raise bulk.RowError("code is empty")
    problem = check_institution_code(code)
    if problem:
        raise bulk.RowError(problem)
    if not row.get("name", "").strip():
        raise bulk.RowError("name is empty")
    for what in ("name", "region"):
        if problem := check_name(row.get(what, "").strip(), what):
            raise bulk.RowError(problem)
    kind = normalise_kind(row.get("kind", ""))
    if kind is None:
        raise bulk.RowError(f"kind {row.get('kind', '')!r} is not one of {', '.join(KINDS)}")
    email = row.get("contact_email", "").strip() or None
    if email and (problem := check_email(email)):
        raise bulk.RowError(f"contact_email: {problem}")
    return {"code": code, "name": row["name"].strip(), "kind": kind, "region": row.get("region", "").strip() or None,
            "contact_email": email}


@app.command("import")
def import_(file: CsvFile, skip_invalid: SkipInvalid = False, resume: Resume = False, restart: Restart = False,
            results: Results = None, dry_run: DryRun = False):
    """Create institutions from a CSV: code,name,kind[,region,contact_email].

    Examples:

      egactl institutions import institutions.csv --dry-run

      egactl institutions import institutions.csv --skip-invalid --results results.csv

      egactl institutions import institutions.csv --resume
    """
    ctx = context.get()
    job = bulk.Job(name="institutions-import", path=file, required=("code", "name", "kind"), parse_row=_parse_row,
                   endpoint="/api/v1/institutions/bulk", unique_key=lambda item: item["code"], chunk_size=200,
                   noun="institutions")
    summary = bulk.run(ctx, job, skip_invalid=skip_invalid, resume=resume, restart=restart, results=results,
                       dry_run=dry_run)
    bulk.finish_command(ctx, summary)
