"""/api/v1/mail/domains: the mail domains of each institution."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select, update

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, get_institution, insert_unique, iso,
                                  not_found, page, principal, same_or_conflict, visible)
from egactl_mail.server.models import MailAddress, MailDomain
from egactl_mail.server.schemas import DomainIn, DomainOut, DomainPage, DomainPatch

router = APIRouter(route_class=ApiRoute, tags=["mail"])


def serialize(d: MailDomain) -> dict:
    return {"domain": d.domain, "institution": d.institution, "naming_rule": d.naming_rule, "primary": d.is_primary,
            "version": d.version, "created_at": iso(d.created_at)}


def load(domain: str, *, write: bool = False) -> MailDomain:
    """The domain (404 if none); a change needs an admin (e-GA runs DNS and the mail servers),
    and takes the row's lock and the request's If-Match."""
    name = domain.strip().lower().rstrip(".")
    row = db().scalar(select(MailDomain).where(MailDomain.domain == name))
    if row is None:
        raise not_found(f"mail domain {name}")
    p = principal()
    if write:
        p.require("admin")
        return etag.guard(row, f"mail domain {name}")
    p.check_read(row.institution)
    return row


def demote_others(institution: str, keep: str | None = None) -> None:
    """The institution's other domains stop being primary (each gets a new version: its ETag changes)."""
    stmt = update(MailDomain).where(MailDomain.institution == institution, MailDomain.is_primary.is_(True))
    if keep is not None:
        stmt = stmt.where(MailDomain.domain != keep)
    db().execute(stmt.values(is_primary=False, version=MailDomain.version + 1))


def usage(domain: str) -> dict[str, int]:
    """What still has an address in ``domain``: mailboxes (deleted ones too, while retained), aliases, lists."""
    rows = db().execute(select(MailAddress.kind, func.count()).where(MailAddress.domain == domain)
                        .group_by(MailAddress.kind)).all()
    counts = {"mailbox": 0, "alias": 0, "list": 0}
    counts.update({kind: n for kind, n in rows})
    return counts


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else ("es" if noun.endswith("x") else "s"))


@router.get("/domains", response_model=DomainPage)
def list_domains(cursor: str | None = None, limit: int | None = None, institution: str | None = None):
    stmt = visible(select(MailDomain), MailDomain.institution, institution)
    return page(db(), stmt, MailDomain.id, cursor=cursor, limit=limit, serialize=serialize, oldest_first=True)


def differences(existing: MailDomain, asked: DomainIn) -> list[str]:
    """Where ``existing`` is not what a create asks for (a field not sent asks for nothing)."""
    differ = []
    if existing.institution != asked.institution:
        differ.append(f"institution {existing.institution}")
    if "naming_rule" in asked.model_fields_set and existing.naming_rule != asked.naming_rule:
        differ.append(f"naming rule {existing.naming_rule}")
    if asked.primary and not existing.is_primary:
        differ.append("not primary")
    return differ


@router.post("/domains", status_code=201, response_model=DomainOut,
             responses={200: {"model": DomainOut, "description": "It exists already, exactly as asked: nothing "
                                                                 "changed (re-running a create is safe)"}})
def add_domain(body: DomainIn):
    """Add a domain to an institution (admin: e-GA runs DNS and the mail servers): 201.

    An institution's first domain is its primary one; ``primary`` moves that role.
    The same again is 200 with the domain as it is, changing nothing; the domain
    taken otherwise (another institution, another naming rule) is 409 saying how.
    """
    principal().require("admin")
    get_institution(body.institution)
    session = db()
    existing = session.scalar(select(MailDomain).where(MailDomain.domain == body.domain))
    if existing is not None:
        differ = differences(existing, body)
        if differ:
            hint = "" if existing.institution != body.institution else \
                f"; change it with `egactl mail domains update {body.domain}`"
            raise Problem(409, f"mail domain {body.domain} already exists ({', '.join(differ)}){hint}")
        same_or_conflict(existing, {}, what=f"mail domain {body.domain}")  # the SDK's create rule: marked exists
        return etag.respond(serialize(existing), existing.version, status_code=200,
                            headers={"Location": f"/api/v1/mail/domains/{existing.domain}"})
    has_primary = session.scalar(select(MailDomain.id).where(MailDomain.institution == body.institution,
                                                             MailDomain.is_primary.is_(True)))
    primary = body.primary or has_primary is None
    if primary and has_primary is not None:
        demote_others(body.institution)
    row = MailDomain(domain=body.domain, institution=body.institution, naming_rule=body.naming_rule,
                     is_primary=primary, version=1, created_at=backend().now())
    # Added meanwhile by a concurrent request: the unique index has the last word.
    insert_unique(row, f"mail domain {body.domain} already exists")
    audit.record("create", "mail-domain", row.domain, institution=row.institution, after=serialize(row))
    return etag.respond(serialize(row), row.version, status_code=201,
                        headers={"Location": f"/api/v1/mail/domains/{row.domain}"})


@router.get("/domains/{domain}", response_model=DomainOut)
def show_domain(domain: str):
    row = load(domain)
    return etag.respond(serialize(row), row.version)


@router.patch("/domains/{domain}", response_model=DomainOut)
def update_domain(domain: str, body: DomainPatch):
    """Change the naming rule (new addresses only: existing ones are not renamed), or make it
    the institution's primary domain (admin). With If-Match: 412 if it changed since it was read."""
    row = load(domain, write=True)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    before = serialize(row)
    if changes.get("primary") and not row.is_primary:
        demote_others(row.institution, keep=row.domain)
        row.is_primary = True
    if "naming_rule" in changes:
        row.naming_rule = changes["naming_rule"]
    if serialize(row) != before:
        db().flush()
        audit.record("update", "mail-domain", row.domain, institution=row.institution, before=before,
                     after=serialize(row))
    return etag.respond(serialize(row), row.version)


@router.delete("/domains/{domain}", response_model=DomainOut)
def delete_domain(domain: str):
    """Remove a domain nothing uses any more (admin). 409 while a mailbox (a deleted one too, while its
    address is retained), an alias or a list has an address in it, or while it is the primary
    domain of an institution that has others. With If-Match: 412 if it changed since it was read."""
    row = load(domain, write=True)
    counts = usage(row.domain)
    if any(counts.values()):
        used = ", ".join(plural(n, noun) for noun, n in (("mailbox", counts["mailbox"]), ("alias", counts["alias"]),
                                                          ("list", counts["list"])) if n)
        raise Problem(409, f"mail domain {row.domain} is in use ({used}); delete or move them first "
                           f"(a deleted mailbox keeps its address until it is purged)",
                      mailboxes=counts["mailbox"], aliases=counts["alias"], lists=counts["list"])
    others = list(db().scalars(select(MailDomain.domain).where(MailDomain.institution == row.institution,
                                                               MailDomain.id != row.id).order_by(MailDomain.id)))
    if row.is_primary and others:
        raise Problem(409, f"mail domain {row.domain} is the primary domain of {row.institution}; make another "
                           f"primary first (egactl mail domains update {others[0]} --primary)")
    data = serialize(row)
    db().delete(row)
    db().flush()
    audit.record("delete", "mail-domain", data["domain"], institution=data["institution"], before=data)
    return data
