"""/api/v1/mail/mailboxes: look-up, creation, lifecycle, passwords, quota."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, iso, page, principal, same_or_conflict,
                                  visible)
from egactl_mail import rules
from egactl_mail.server import passwords, search, service
from egactl_mail.server.models import Mailbox
from egactl_mail.server.schemas import (BulkIn, BulkOut, MailboxOut, MailboxPage, MailboxPatch, PasswordOut,
                                         PersonIn, Status, TransitionIn)

router = APIRouter(route_class=ApiRoute, tags=["mail"])


@router.get("/mailboxes", response_model=MailboxPage)
def list_mailboxes(cursor: str | None = None, limit: int | None = None, institution: str | None = None,
                   status: Status | None = None, department: str | None = None, q: str | None = None):
    """Mailboxes the caller may see; purged ones only when asked for by status."""
    p = principal()
    stmt = visible(select(Mailbox), Mailbox.institution, institution)
    stmt = stmt.where(Mailbox.status == status) if status else stmt.where(Mailbox.status != rules.PURGED)
    if department:
        stmt = stmt.where(func.lower(Mailbox.department) == department.strip().lower())
    counted = None
    if q and q.strip():
        stmt = stmt.where(search.among(Mailbox.id, search.mailbox_ids(q), db().bind.dialect.name))
        if not (institution or status or department) and p.visible_institutions() is None:
            counted = search.counted(q)  # every institution's mailboxes but the purged, narrowed by q alone
    mask = p.masks_personal_data
    return page(db(), stmt, Mailbox.id, cursor=cursor, limit=limit,
                serialize=lambda m: service.serialize(m, mask=mask), oldest_first=True, counted=counted)


@router.post("/mailboxes", status_code=201, response_model=MailboxOut,
             responses={200: {"model": MailboxOut, "description": "The employee has this mailbox already, exactly as "
                                                                  "asked: nothing changed (re-running a create is safe)"}})
def create_mailbox(body: PersonIn, dry_run: bool = False):
    """Create a mailbox; the address is generated (next free suffix) unless given: 201.

    The employee's mailbox there already with these details is 200 with the mailbox,
    nothing changed; another mailbox of the employee is 409.
    ``dry_run``: answer with the address it would get; nothing is stored.
    """
    try:
        if dry_run:
            return JSONResponse(service.preview_one(body))
        m = service.create_one(body)
    except service.Exists as exists:
        m = same_or_conflict(exists.mailbox, {}, what=f"mailbox {exists.mailbox.address}")  # marked exists
        return etag.respond(service.out(m, with_aliases=True), m.version, status_code=200,
                            headers={"Location": f"/api/v1/mail/mailboxes/{m.address}"})
    return etag.respond(service.out(m, with_aliases=True), m.version, status_code=201,
                        headers={"Location": f"/api/v1/mail/mailboxes/{m.address}"})


@router.post("/mailboxes/bulk", response_model=BulkOut)
def bulk_create(body: BulkIn):
    """Create many (the import); a row whose mailbox exists with the same details is "exists".

    ``institutions`` are checked before any item (403/404/422 for the whole
    request), so an import the caller may not make fails once, not per row.
    """
    if body.institutions:
        service.preflight(body.institutions)
    return {"results": service.create_many(body.items) if body.items else []}


@router.get("/mailboxes/{ref}", response_model=MailboxOut)
def show_mailbox(ref: str):
    """By address (or alias) or employee number."""
    m = service.load(ref)
    return etag.respond(service.out(m, with_aliases=m.status != rules.PURGED), m.version)


@router.patch("/mailboxes/{ref}", response_model=MailboxOut)
def update_mailbox(ref: str, body: MailboxPatch):
    m = service.guarded(ref)
    service.update(m, body.model_dump(exclude_unset=True))
    return etag.respond(service.out(m, with_aliases=True), m.version)


def _move_route(action: str, path: str | None = None):
    """The route of one lifecycle move, ``POST /mailboxes/{ref}/<action>``, described by ``rules.MAILBOX``.

    ``path``: an old name of the move, kept for callers of the previous release (deprecated)."""

    def route(ref: str, body: TransitionIn | None = None):
        m = service.guarded(ref)
        service.transition(m, action, reason=body.reason if body else None)
        return etag.respond(service.out(m, with_aliases=m.status != rules.PURGED), m.version)

    route.__name__ = route.__qualname__ = (path or action).replace("-", "_")
    route.__doc__ = rules.describe(action) + (f" Old name of `{action}`; it will be removed." if path else "")
    return router.post(f"/mailboxes/{{ref}}/{path or action}", response_model=MailboxOut,
                       deprecated=bool(path))(route)


for _action in rules.MOVES:
    _move_route(_action)
_move_route("resume", path="restore")  # the 2026 name of resume


@router.post("/mailboxes/{ref}/reset-password", response_model=PasswordOut)
def reset_password(ref: str, request: Request):
    """A one-time temporary password, returned once, never stored in clear.

    Refuses an Idempotency-Key: the idempotency store keeps response bodies,
    and this body is a password. A lost answer is recovered by resetting again.
    """
    if request.headers.get("Idempotency-Key"):
        raise Problem(422, "reset-password must be sent without an Idempotency-Key "
                           "(its answer holds a password and is never stored)")
    m = service.guarded(ref)
    rules.MAILBOX.next_state("reset-password", m.status)  # IllegalTransition: the frame answers 409
    now = backend().now()
    password = passwords.generate()
    m.password_hash = passwords.hash_password(password)
    m.password_set_at = now
    m.must_change_password = True
    service.bump(m, now)
    db().flush()
    # The audit entry records that it happened and when, never the password or its hash.
    audit.record("reset-password", "mailbox", m.address, institution=m.institution,
                 after={"must_change_password": True, "password_set_at": iso(now)})
    return JSONResponse({"address": m.address, "temporary_password": password, "must_change_at_first_login": True,
                         "password_set_at": iso(now)}, headers={"Cache-Control": "no-store", "ETag": etag.tag(m.version)})
