"""/api/v1/mail/domains: the mail domains of each institution."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select, update

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, get_institution, insert_unique, iso, page,
                                  principal, visible)
from egactl_mail.server.models import MailDomain
from egactl_mail.server.schemas import DomainIn, DomainOut, DomainPage

router = APIRouter(route_class=ApiRoute, tags=["mail"])


def serialize(d: MailDomain) -> dict:
    return {"domain": d.domain, "institution": d.institution, "naming_rule": d.naming_rule, "primary": d.is_primary,
            "created_at": iso(d.created_at)}


@router.get("/domains", response_model=DomainPage)
def list_domains(cursor: str | None = None, limit: int | None = None, institution: str | None = None):
    stmt = visible(select(MailDomain), MailDomain.institution, institution)
    return page(db(), stmt, MailDomain.id, cursor=cursor, limit=limit, serialize=serialize, oldest_first=True)


@router.post("/domains", status_code=201, response_model=DomainOut)
def add_domain(body: DomainIn):
    """Add a domain to an institution (admin: e-GA runs DNS and the mail servers).

    An institution's first domain is its primary one; ``primary`` moves that role.
    """
    principal().require("admin")
    get_institution(body.institution)
    session = db()
    owner = session.scalar(select(MailDomain.institution).where(MailDomain.domain == body.domain))
    if owner is not None:
        raise Problem(409, f"mail domain {body.domain} already exists (institution {owner})")
    has_primary = session.scalar(select(MailDomain.id).where(MailDomain.institution == body.institution,
                                                             MailDomain.is_primary.is_(True)))
    primary = body.primary or has_primary is None
    if primary and has_primary is not None:
        session.execute(update(MailDomain).where(MailDomain.institution == body.institution)
                        .values(is_primary=False))
    row = MailDomain(domain=body.domain, institution=body.institution, naming_rule=body.naming_rule,
                     is_primary=primary, created_at=backend().now())
    # Added meanwhile by a concurrent request: the unique index has the last word.
    insert_unique(row, f"mail domain {body.domain} already exists")
    audit.record("create", "mail-domain", row.domain, institution=row.institution, after=serialize(row))
    return serialize(row)
