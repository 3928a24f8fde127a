"""/api/v1/find: one look-up across every service (``egactl find``)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from egactl.server import find
from egactl.server.models import Institution
from egactl.server.problems import Problem
from egactl.server.routes.institutions import describe, holdings, matching
from egactl.server.scope import ApiRoute, backend, db

router = APIRouter(route_class=ApiRoute, tags=["find"])

CORE_SERVICE = "institutions"
DEFAULT_LIMIT = 10
MAX_LIMIT = 50


class FoundOut(BaseModel):
    service: str
    kind: str
    reference: str
    summary: str
    command: str
    institution: str | None
    rank: int


class Unavailable(BaseModel):
    service: str
    reason: str


class FindOut(BaseModel):
    term: str
    kinds: list[str]
    """The readings of the term the core recognised (phone, email, ip, host, digits, words, code)."""
    items: list[FoundOut]
    unavailable: list[Unavailable]
    """Services that failed or did not answer in time: their results are missing."""


@router.get("", response_model=FindOut)
def find_everywhere(q: str = Query(..., min_length=1, max_length=find.MAX_TERM, description="What to look for."),
                    service: list[str] | None = Query(None, description="Only these services (repeat the parameter)."),
                    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Results per service at most.")):
    term = find.recognise(q)
    if not term.text:
        raise Problem(422, "the term is empty")
    finders: dict[str, find.Finder] = {CORE_SERVICE: _institutions}
    finders.update({name: part.find for name, part in backend().parts.items() if part.find is not None})
    if service:
        unknown = sorted(set(service) - set(finders))
        if unknown:
            raise Problem(422, f"no service named {', '.join(unknown)} answers find (known: {', '.join(sorted(finders))})")
        finders = {name: f for name, f in finders.items() if name in service}
    timeout = float(backend().setting("find", "timeout") or find.TIMEOUT_SECONDS)
    items, unavailable = find.ask_all(finders, term, limit, timeout=timeout)
    return {"term": term.text, "kinds": term.kinds, "items": [find.as_dict(f) for f in items],
            "unavailable": unavailable}


def _institutions(term: find.Term, limit: int) -> list[find.Found]:
    """An institution by its code (exact), its contact e-mail address, or part of its code or name,
    with what it holds per service."""
    session = db()
    rows: list[Institution] = []
    if term.email:
        rows += session.scalars(select(Institution).where(func.lower(Institution.contact_email) == term.email)).all()
    if term.code:
        exact = session.scalar(select(Institution).where(Institution.code == term.code))
        rows += [exact] if exact is not None else []
    if len(term.text) >= 2:
        rows += session.scalars(select(Institution).where(matching(term.text))
                                .order_by(Institution.code).limit(limit)).all()
    seen: set[str] = set()
    found = []
    for row in rows:
        if row.code in seen:
            continue
        seen.add(row.code)
        held = describe(holdings(row.code)) or "holds nothing yet"
        found.append(find.Found(kind="institution", reference=row.code, summary=f"{row.name} · {held}",
                                command=f"egactl institutions show {row.code}", institution=row.code,
                                rank=100 if row.code == term.code or (term.email and (row.contact_email or "").lower() == term.email)
                                else 40))
    return found[:limit]
