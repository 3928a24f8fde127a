"""/api/v1/mail/lists: distribution lists (members: mailboxes, other lists, outside addresses)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import delete, select

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, get_institution, iso, lock, not_found,
                                  page, principal, same_or_conflict, visible)
from egactl_mail import rules
from egactl_mail.server import service
from egactl_mail.server.addresses import Allocator
from egactl_mail.server.models import MailAddress, Mailbox, MailDomain, MailList, MailListMember
from egactl_mail.server.schemas import ListDeleted, ListIn, ListOut, ListPage, MembersIn

router = APIRouter(route_class=ApiRoute, tags=["mail"])


def serialize(lst: MailList, *, with_members: bool = True) -> dict:
    session = db()
    rows = session.execute(select(MailListMember, Mailbox.status)
                           .outerjoin(Mailbox, Mailbox.id == MailListMember.mailbox_id)
                           .where(MailListMember.list_id == lst.id).order_by(MailListMember.member)).all()
    members = [{"address": m.member, "kind": m.kind, "status": status} for m, status in rows]
    return {"id": lst.id, "address": lst.address, "institution": lst.institution, "name": lst.name,
            "members": members if with_members else [], "member_count": len(members), "version": lst.version,
            "created_at": iso(lst.created_at), "updated_at": iso(lst.updated_at)}


def load(address: str, *, write: bool = False) -> MailList:
    address = rules.normalise_address(address)
    lst = db().scalar(select(MailList).where(MailList.address == address))
    if lst is None:
        raise not_found(f"distribution list {address}")
    p = principal()
    p.check_write(lst.institution) if write else p.check_read(lst.institution)
    # A change to the list or its members: lock it and hold the If-Match against it.
    return etag.guard(lst, f"distribution list {address}") if write else lst


def resolve_members(members: list[str]) -> list[tuple[str, str, int | None]]:
    """(address, kind, mailbox id) for each member; an address in one of our
    domains must exist (a typo there would silently lose mail), others are outside."""
    session = db()
    ours = set(session.scalars(select(MailDomain.domain)))
    out = []
    for raw in members:
        local, _, domain = raw.rpartition("@")
        domain = domain.lower()
        if domain not in ours:
            out.append((f"{local}@{domain}", "external", None))
            continue
        address = f"{local}@{domain}".lower()
        claim = session.scalar(select(MailAddress).where(MailAddress.address == address))
        if claim is None:
            raise Problem(422, f"{address} is in a government domain but no mailbox, alias or list has it",
                          errors=[{"field": "members", "message": f"unknown address {address}"}])
        if claim.kind == "list":
            out.append((address, "list", None))
        else:
            out.append((address, "mailbox", claim.mailbox_id))
    return out


@router.get("/lists", response_model=ListPage)
def list_lists(cursor: str | None = None, limit: int | None = None, institution: str | None = None):
    stmt = visible(select(MailList), MailList.institution, institution)
    return page(db(), stmt, MailList.id, cursor=cursor, limit=limit,
                serialize=lambda lst: serialize(lst, with_members=False), oldest_first=True)


@router.post("/lists", status_code=201, response_model=ListOut,
             responses={200: {"model": ListOut, "description": "The list is there already, exactly as asked: nothing "
                                                               "changed (re-running a create is safe)"}})
def create_list(body: ListIn):
    """Create a distribution list: 201. The same list again (institution, name, and the
    members if any are given) is 200 with the list as it is, nothing changed; the address
    taken otherwise is 409."""
    p = principal()
    p.check_write(body.institution)
    get_institution(body.institution)
    members = resolve_members(body.members)
    existing = db().scalar(select(MailList).where(MailList.address == body.address))
    if existing is not None and existing.institution == body.institution and existing.name == body.name.strip():
        present = set(db().scalars(select(MailListMember.member).where(MailListMember.list_id == existing.id)))
        if not body.members or {address for address, _, _ in members} == present:
            same_or_conflict(existing, {}, what=f"distribution list {existing.address}")  # marked exists
            return etag.respond(serialize(existing), existing.version, status_code=200,
                                headers={"Location": f"/api/v1/mail/lists/{existing.address}"})
    now = backend().now()
    lst = MailList(institution=body.institution, address=body.address, name=body.name.strip(), version=1,
                   created_at=now, updated_at=now)
    # Into the session with its claim (not before: a query would flush it ahead of the checks).
    service.claim_address(body.address, body.institution, kind="list", mail_list=lst)
    _add(lst, members, now)
    data = serialize(lst)
    audit.record("create", "mail-list", lst.address, institution=lst.institution, after=data)
    return etag.respond(data, lst.version, status_code=201, headers={"Location": f"/api/v1/mail/lists/{lst.address}"})


NESTING = "mail-list-nesting"
"""The lock every addition of a list to a list takes: two of them at once (A into B, B into A) each
found no loop in what the other had not yet committed, and together made one."""


def _add(lst: MailList, members: list[tuple[str, str, int | None]], now) -> list[str]:
    session = db()
    present = set(session.scalars(select(MailListMember.member).where(MailListMember.list_id == lst.id)))
    added = []
    nests = any(kind == "list" and address not in present for address, kind, _ in members)
    if nests and lst.id is not None:  # a list being created is in no other list yet: no loop to make
        lock(session, NESTING)
    for address, kind, mailbox_id in members:
        if address in present:
            continue
        if address == lst.address:
            raise Problem(422, f"a list cannot be a member of itself ({address})")
        if kind == "list" and lst.id is not None and (path := _path(address, lst.address)):
            loop = " → ".join([lst.address, *path])
            raise Problem(409, f"adding {address} to {lst.address} would make a loop of lists ({loop}): mail to "
                               f"any of them would go round it; remove one of those memberships first")
        session.add(MailListMember(list_id=lst.id, member=address, kind=kind, mailbox_id=mailbox_id, added_at=now))
        present.add(address)
        added.append(address)
    # Under the list's lock (or in the request creating it): ``present`` is exact, no member is added twice.
    session.flush()
    return added


def _path(start: str, target: str) -> list[str] | None:
    """The lists from ``start`` down to ``target`` through lists' list members (both ends
    included), or None when ``target`` is not inside ``start``, however deep."""
    session = db()
    came_from: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        rows = session.execute(select(MailList.address, MailListMember.member)
                               .join(MailListMember, MailListMember.list_id == MailList.id)
                               .where(MailList.address.in_(frontier), MailListMember.kind == "list")
                               .order_by(MailList.address, MailListMember.member)).all()
        frontier = []
        for owner, member in rows:
            if member in came_from:
                continue
            came_from[member] = owner
            if member == target:
                path = [member]
                while (step := came_from[path[-1]]) is not None:
                    path.append(step)
                return path[::-1]
            frontier.append(member)
    return None


@router.get("/lists/{address}", response_model=ListOut)
def show_list(address: str):
    lst = load(address)
    return etag.respond(serialize(lst), lst.version)


@router.post("/lists/{address}/members", response_model=ListOut)
def add_members(address: str, body: MembersIn):
    """Add members (already present ones are left as they are)."""
    lst = load(address, write=True)
    now = backend().now()
    added = _add(lst, resolve_members(body.members), now)
    if added:
        etag.touch(lst)
        lst.updated_at = now
        db().flush()
        audit.record("add-members", "mail-list", lst.address, institution=lst.institution, after={"added": added})
    return etag.respond(serialize(lst), lst.version)


@router.delete("/lists/{address}/members", response_model=ListOut)
def remove_members(address: str, member: list[str] = Query(..., description="Repeat for each member to remove.")):
    """Remove members; naming one that is not a member is a 404 (so a typo is noticed)."""
    lst = load(address, write=True)
    wanted = {m.strip().lower() if "@" in m else m for m in member}
    session = db()
    rows = list(session.scalars(select(MailListMember).where(MailListMember.list_id == lst.id)))
    by_lower = {r.member.lower(): r for r in rows}
    missing = sorted(w for w in wanted if w.lower() not in by_lower)
    if missing:
        raise not_found(f"{', '.join(missing)} in list {lst.address}")
    ids = [by_lower[w.lower()].id for w in wanted]
    session.execute(delete(MailListMember).where(MailListMember.id.in_(ids)))
    etag.touch(lst)
    lst.updated_at = backend().now()
    session.flush()
    audit.record("remove-members", "mail-list", lst.address, institution=lst.institution,
                 before={"removed": sorted(wanted)})
    return etag.respond(serialize(lst), lst.version)


@router.delete("/lists/{address}", response_model=ListDeleted)
def delete_list(address: str):
    """Delete a distribution list: its members go with it, and so does its membership of other
    lists (each of those gets a new version); its address is free at once. With If-Match:
    412 if the list changed since it was read."""
    lst = load(address, write=True)
    session = db()
    data = serialize(lst)
    now = backend().now()
    parents = list(session.scalars(select(MailList).join(MailListMember, MailListMember.list_id == MailList.id)
                                   .where(MailListMember.member == lst.address, MailListMember.kind == "list")
                                   .order_by(MailList.id)))
    for parent in parents:
        # The parent's member list changes too: under its lock, and its ETag goes stale.
        parent = etag.lock(parent, f"distribution list {parent.address}")
        session.execute(delete(MailListMember).where(MailListMember.list_id == parent.id,
                                                     MailListMember.member == lst.address))
        etag.touch(parent)
        parent.updated_at = now
        audit.record("remove-members", "mail-list", parent.address, institution=parent.institution,
                     before={"removed": [lst.address]}, reason=f"list {lst.address} was deleted")
    session.execute(delete(MailListMember).where(MailListMember.list_id == lst.id))
    claim = session.scalar(select(MailAddress).where(MailAddress.list_id == lst.id))
    if claim is not None:
        Allocator(session, now).release(claim)
    session.flush()
    session.delete(lst)
    session.flush()
    data["member_of"] = [p.address for p in parents]
    audit.record("delete", "mail-list", data["address"], institution=data["institution"], before=data)
    return data
