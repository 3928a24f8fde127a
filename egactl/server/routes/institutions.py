"""/api/v1/institutions: the directory every plugin refers to by code."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import or_, select

from egactl.rules import check_email, check_institution_code, check_name
from egactl.server import audit, etag
from egactl.server.bulk import bulk_request, bulk_response
from egactl.server.db import lock
from egactl.server.models import Institution
from egactl.server.pagination import page
from egactl.server.problems import Problem, not_found
from egactl.server.scope import (ApiRoute, backend, conflict_as_409, current, db, insert_unique, principal,
                                 same_or_conflict)

router = APIRouter(route_class=ApiRoute, tags=["institutions"])

Kind = Literal["ministry", "agency", "LGA", "other"]


def _check_code(v: str) -> str:
    v = v.strip().upper()
    if problem := check_institution_code(v):
        raise ValueError(problem)
    return v


def _check_email(v: str | None) -> str | None:
    if v is None or v == "":
        return None
    v = v.strip()
    if problem := check_email(v):
        raise ValueError(problem)
    return v


def _checked_name(what: str):
    def check(v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if problem := check_name(v, what):
            raise ValueError(problem)
        return v
    return check


class InstitutionIn(BaseModel):
    code: str
    name: str = Field(min_length=2, max_length=200)
    kind: Kind
    region: str | None = Field(default=None, max_length=64)
    contact_email: str | None = None

    _code = field_validator("code")(_check_code)
    _email = field_validator("contact_email")(_check_email)
    _name = field_validator("name")(_checked_name("name"))
    _region = field_validator("region")(_checked_name("region"))


class InstitutionPatch(BaseModel):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    kind: Kind | None = None
    region: str | None = Field(default=None, max_length=64)
    contact_email: str | None = None

    _email = field_validator("contact_email")(_check_email)
    _name = field_validator("name")(_checked_name("name"))
    _region = field_validator("region")(_checked_name("region"))


class InstitutionOut(BaseModel):
    code: str
    name: str
    kind: Kind
    region: str | None
    contact_email: str | None
    version: int
    created_at: str
    updated_at: str


class InstitutionPage(BaseModel):
    items: list[InstitutionOut]
    next_cursor: str | None


BulkIn = bulk_request(InstitutionIn, name="InstitutionBulkIn")
BulkOut = bulk_response(("created", "exists", "failed"), name="InstitutionBulkOut")


DIRECTORY = Institution.__table__.c
"""The directory's columns, by name: what ``serialize`` reads, as a row or as the object.

The list selects these, the table's own columns, rather than the mapped
attributes: a statement without them runs without the ORM (no compile state,
no entity loading), about a sixth of the list's CPU per request. Its filters
use them too, since one mapped attribute in a WHERE brings the ORM back."""


def serialize(i: Institution) -> dict[str, Any]:
    return {"code": i.code, "name": i.name, "kind": i.kind, "region": i.region, "contact_email": i.contact_email,
            "version": i.version, "created_at": i.created_at.isoformat(), "updated_at": i.updated_at.isoformat()}


def matching(q: str) -> Any:
    """Institutions whose code or name contains ``q``, or whose name the words of ``q`` start, in any
    order and case (``egactl.plugin.rules.name_matches``: "rev tanz" finds "Tanzania Revenue Authority").
    The directory is a few hundred rows: a scan of it costs less than an index would save."""
    from egactl.plugin.rules import name_tokens

    from sqlalchemy import and_

    like = f"%{q}%"
    found = [DIRECTORY.code.ilike(like), DIRECTORY.name.ilike(like)]
    words = name_tokens(q)
    if words:
        found.append(and_(*(or_(DIRECTORY.name.ilike(f"{w}%"), DIRECTORY.name.ilike(f"% {w}%"),
                                DIRECTORY.name.ilike(f"%-{w}%")) for w in words)))
    return or_(*found)


def get_institution(code: str) -> Institution:
    """The institution, or 404.

    In a writing request the row is locked against its deletion until the
    request ends (PostgreSQL ``FOR KEY SHARE``, which concurrent readers and
    other writers of the institution's resources share; SQLite already has one
    writer at a time), so whatever a plugin creates for it here is seen by a
    concurrent ``DELETE`` asking who still holds what.
    """
    stmt = select(Institution).where(Institution.code == code.upper())
    if current().write:
        stmt = stmt.with_for_update(key_share=True)
    row = db().scalar(stmt)
    if row is None:
        raise not_found(f"institution {code.upper()}")
    return row


def require_institution(code: str) -> Institution:
    """For plugins: the institution must exist, and the caller may write to it."""
    principal().check_write(code.upper())
    return get_institution(code)


@router.get("", response_model=InstitutionPage)
def list_institutions(cursor: str | None = None, limit: int | None = None, kind: Kind | None = None,
                      region: str | None = None, q: str | None = None):
    stmt = select(*DIRECTORY)  # values only, without the ORM: `serialize` reads them by name
    if kind:
        stmt = stmt.where(DIRECTORY.kind == kind)
    if region:
        stmt = stmt.where(DIRECTORY.region.ilike(region))
    if q:
        stmt = stmt.where(matching(q))
    return page(db(), stmt, DIRECTORY.id, cursor=cursor, limit=limit, serialize=serialize, oldest_first=True)


@router.get("/{code}", response_model=InstitutionOut)
def show_institution(code: str):
    row = get_institution(code)
    return etag.respond(serialize(row), row.version)


def _create(body: InstitutionIn) -> Institution:
    now = backend().now()
    row = Institution(code=body.code, name=body.name.strip(), kind=body.kind, region=body.region,
                      contact_email=body.contact_email, version=1, created_at=now, updated_at=now)
    insert_unique(row, f"an institution with code {body.code} already exists")
    audit.record("create", "institution", row.code, institution=row.code, after=serialize(row))
    return row


FIELDS = ("name", "kind", "region", "contact_email")
"""What a create sets: an existing institution holding the same in each is the one asked for."""


def asked_fields(body: InstitutionIn) -> dict[str, Any]:
    return {f: getattr(body, f) for f in FIELDS}


@router.post("", status_code=201, response_model=InstitutionOut,
             responses={200: {"model": InstitutionOut, "description": "It exists already, exactly as asked: nothing "
                                                                      "changed (re-running a create is safe)"}})
def create_institution(body: InstitutionIn):
    """Create an institution: 201. The same again is 200 with the institution as it is,
    changing nothing; the code taken with other values is 409 naming the fields that differ."""
    principal().require("admin")
    existing = db().scalar(select(Institution).where(Institution.code == body.code))
    if existing is None:
        try:
            row = _create(body)
        except Problem as exc:  # created by a concurrent request since our SELECT
            existing = db().scalar(select(Institution).where(Institution.code == body.code))
            if existing is None:
                raise exc from None
        else:
            return etag.respond(serialize(row), row.version, status_code=201,
                                headers={"Location": f"/api/v1/institutions/{row.code}"})
    same_or_conflict(existing, asked_fields(body), what=f"institution {body.code}")
    return etag.respond(serialize(existing), existing.version, status_code=200,
                        headers={"Location": f"/api/v1/institutions/{existing.code}"})


@router.post("/bulk", response_model=BulkOut)
def bulk_create(body: BulkIn):
    """Create many at once; a row whose institution already exists identically counts as done."""
    principal().require("admin")
    # Two imports inserting overlapping codes in different orders deadlock on
    # PostgreSQL's unique index (one chunk then fails whole, 500). Imports of
    # the directory are rare: take turns, as SQLite's write lock already makes them.
    lock(db(), "core-institutions-bulk")
    results = []
    for item in body.items:
        existing = db().scalar(select(Institution).where(Institution.code == item.code))
        if existing is None:
            try:
                _create(item)
                results.append({"line": item.line, "status": "created", "id": item.code})
                continue
            except Problem as exc:  # a single create committed it since our SELECT
                existing = db().scalar(select(Institution).where(Institution.code == item.code))
                if existing is None:
                    results.append({"line": item.line, "status": "failed", "id": item.code, "error": exc.detail})
                    continue
        same = all(v is None or getattr(existing, f) == v for f, v in asked_fields(item).items())
        results.append({"line": item.line, "status": "exists" if same else "failed", "id": item.code,
                        "error": None if same else f"institution {item.code} exists with other details"})
    return {"results": results}


@router.patch("/{code}", response_model=InstitutionOut)
def update_institution(code: str, body: InstitutionPatch):
    principal().check_write(code.upper())
    row = etag.guard(get_institution(code), f"institution {code.upper()}")
    before = serialize(row)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field in ("name", "kind"):
            raise Problem(422, f"{field} cannot be empty", errors=[{"field": field, "message": "required"}])
        setattr(row, field, value)
    if changes:
        row.updated_at = backend().now()
        db().flush()
        audit.record("update", "institution", row.code, institution=row.code, before=before, after=serialize(row))
    return etag.respond(serialize(row), row.version)


@router.delete("/{code}", status_code=200, response_model=InstitutionOut)
def delete_institution(code: str):
    principal().require("admin")
    session = db()
    # FOR UPDATE: waits for requests that are creating something for it (they hold
    # FOR KEY SHARE, see get_institution) and keeps new ones out until we are done.
    row = session.scalar(select(Institution).where(Institution.code == code.upper()).with_for_update())
    if row is None:
        raise not_found(f"institution {code.upper()}")
    row = etag.guard(row, f"institution {row.code}")
    held = holdings(row.code)
    if held:
        raise Problem(409, f"{row.code} still holds {describe(held)}; release them first",
                      holdings={plugin: counts for plugin, counts in held.items()})
    before = serialize(row)
    with conflict_as_409(f"institution {row.code} still has resources; remove them first"):
        session.delete(row)
    audit.record("delete", "institution", before["code"], institution=before["code"], before=before)
    return before


def holdings(code: str) -> dict[str, dict[str, int]]:
    """What ``code`` still holds, per plugin: every mounted part's ``holdings`` hook,
    asked in this request's transaction. Zero counts are left out."""
    found: dict[str, dict[str, int]] = {}
    for name, part in backend().parts.items():
        if part.holdings is None:
            continue
        counts = {what: int(n) for what, n in (part.holdings(db(), code) or {}).items() if n}
        if counts:
            found[name] = counts
    return found


def describe(held: dict[str, dict[str, int]]) -> str:
    """{"ussd": {"USSD codes": 2}, "mail": {"mailboxes": 1}} → "2 USSD codes, 1 mailbox"."""
    return ", ".join(f"{n} {what if n != 1 else _singular(what)}" for counts in held.values() for what, n in counts.items())


def _singular(noun: str) -> str:
    """The plural noun phrases plugins use ("USSD codes", "mailboxes", "opt-outs", "…(history)")."""
    head, sep, tail = noun.partition(" (")
    words = head.split(" ")
    last = words[-1]
    if last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith(("sses", "xes", "ches", "shes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    else:
        # an uncountable or already singular word: find the plural earlier ("groups of contacts")
        return noun
    return " ".join([*words[:-1], last]) + sep + tail
