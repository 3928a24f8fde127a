"""/api/v1/mail/.../aliases: more addresses for one mailbox, claimed like any address."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from egactl.plugin.server import ApiRoute, audit, backend, db, etag, iso, not_found, page, principal, same_or_conflict
from egactl_mail import rules
from egactl_mail.server import service
from egactl_mail.server.addresses import Allocator
from egactl_mail.server.models import MailAddress, Mailbox
from egactl_mail.server.schemas import AliasIn, AliasOut, AliasPage

router = APIRouter(route_class=ApiRoute, tags=["mail"])


def serialize(a: MailAddress, mailbox: str) -> dict:
    return {"address": a.address, "mailbox": mailbox, "institution": a.institution,
            "created_at": iso(a.created_at)}


@router.get("/mailboxes/{ref}/aliases", response_model=AliasPage)
def list_aliases(ref: str, cursor: str | None = None, limit: int | None = None):
    m = service.load(ref)
    stmt = select(MailAddress).where(MailAddress.mailbox_id == m.id, MailAddress.kind == "alias")
    return page(db(), stmt, MailAddress.id, cursor=cursor, limit=limit, serialize=lambda a: serialize(a, m.address), oldest_first=True)


@router.post("/mailboxes/{ref}/aliases", status_code=201, response_model=AliasOut,
             responses={200: {"model": AliasOut, "description": "The mailbox has this alias already: nothing changed "
                                                                "(re-running a create is safe)"}})
def add_alias(ref: str, body: AliasIn):
    """Another address for the mailbox, in one of its institution's domains: 201; 409 if taken
    by anything else; 200 with nothing changed if it is this mailbox's alias already.

    The mailbox's representation lists its aliases, so this is a change of the
    mailbox: it honours the mailbox's If-Match and gives it a new version."""
    m = service.guarded(ref)
    mine = db().scalar(select(MailAddress).where(MailAddress.address == body.address, MailAddress.kind == "alias",
                                                 MailAddress.mailbox_id == m.id))
    if mine is not None:
        same_or_conflict(mine, {}, what=f"alias {mine.address}")  # the SDK's create rule: marked exists
        return JSONResponse(serialize(mine, m.address), status_code=200)
    rules.MAILBOX.next_state("alias", m.status)  # IllegalTransition: the frame answers 409
    row = service.claim_address(body.address, m.institution, kind="alias", mailbox=m)
    etag.touch(m)
    m.updated_at = backend().now()
    db().flush()
    audit.record("add-alias", "mailbox", m.address, institution=m.institution, after={"alias": row.address})
    return serialize(row, m.address)


@router.delete("/aliases/{address}", response_model=AliasOut)
def remove_alias(address: str):
    """Remove an alias (a mailbox's own address can't be removed this way).

    A change of its mailbox: it honours the mailbox's If-Match (``mail show``'s ETag)."""
    address = rules.normalise_address(address)
    session = db()
    row = session.scalar(select(MailAddress).where(MailAddress.address == address))
    if row is None or row.kind != "alias":
        raise not_found(f"alias {address}")
    m = session.get(Mailbox, row.mailbox_id)
    principal().check_write(m.institution)
    m = etag.guard(m, f"mailbox {m.address}")
    # Under the mailbox's lock: a concurrent removal may have taken it meanwhile.
    row = session.scalar(select(MailAddress).where(MailAddress.address == address)
                         .execution_options(populate_existing=True))
    if row is None or row.kind != "alias" or row.mailbox_id != m.id:
        raise not_found(f"alias {address}")
    # A deleted mailbox's aliases are retained with it until purge.
    rules.MAILBOX.next_state("alias", m.status)  # IllegalTransition: the frame answers 409
    data = serialize(row, m.address)
    Allocator(session, backend().now()).release(row)
    etag.touch(m)
    m.updated_at = backend().now()
    session.flush()
    audit.record("remove-alias", "mailbox", m.address, institution=m.institution, before={"alias": address})
    return data
