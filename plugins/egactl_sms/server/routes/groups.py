"""/api/v1/sms/groups: an institution's contact groups and their members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import delete, select

from egactl.plugin.rules import RuleError, normalise_msisdn
from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, etag, insert_unique, invalid, page, principal,
                                  same_or_conflict,
                                  require_institution, visible)
from egactl_sms import rules
from egactl_sms.server import names
from egactl_sms.server.models import Group, GroupMember
from egactl_sms.server.schemas import BulkMembersIn, BulkMembersOut, GroupIn, MembersIn, RemoveIn, group_out, member_out, phone_out
from egactl_sms.server.service import chunked, get_group, insert_ignoring_conflicts, member_count

router = APIRouter(route_class=ApiRoute, tags=["sms"])


def _out(g: Group) -> dict[str, Any]:
    return group_out(g, member_count(g.id))


@router.get("")
def list_groups(cursor: str | None = None, limit: int | None = None, institution: str | None = None):
    stmt = visible(select(Group), Group.institution, institution)
    return page(db(), stmt, Group.id, cursor=cursor, limit=limit, serialize=_out, oldest_first=True)


@router.post("", status_code=201, responses={200: {"description": "The group exists already, as asked: nothing changed"}})
def create_group(body: GroupIn):
    """Create a contact group: 201. The same again is 200 with the group, changing nothing;
    the name taken with another description is 409 naming it (the SDK's create rule)."""
    name = body.name
    inst = require_institution(body.institution).code
    existing = db().scalar(select(Group).where(Group.institution == inst, Group.name == name))
    if existing is not None:
        same_or_conflict(existing, {"description": body.description}, what=f"{inst}'s group {name!r}")
        return etag.respond(_out(existing), existing.version, status_code=200)
    now = backend().now()
    row = Group(institution=inst, name=name, description=body.description, created_by=principal().subject,
                created_at=now, updated_at=now, version=1)
    insert_unique(row, f"{inst} already has a group named {name!r}")
    out = group_out(row, 0)
    audit.record("create", "sms-group", f"{inst}/{name}", institution=inst, after=out)
    return etag.respond(out, row.version, status_code=201)


@router.get("/{institution}/{name}")
def show_group(institution: str, name: str):
    row = get_group(institution, name)
    return etag.respond(_out(row), row.version)


@router.delete("/{institution}/{name}")
def delete_group(institution: str, name: str):
    row = get_group(institution, name, write=True)
    before = _out(row)
    names.forget(db(), GroupMember.group_id == row.id)
    db().execute(delete(GroupMember).where(GroupMember.group_id == row.id))
    db().delete(row)
    db().flush()
    audit.record("delete", "sms-group", f"{row.institution}/{row.name}", institution=row.institution, before=before)
    return before


@router.get("/{institution}/{name}/members")
def list_members(institution: str, name: str, cursor: str | None = None, limit: int | None = None):
    row = get_group(institution, name)
    stmt = select(GroupMember).where(GroupMember.group_id == row.id)
    return page(db(), stmt, GroupMember.id, cursor=cursor, limit=limit, serialize=member_out, oldest_first=True)


def _add(group: Group, members: list[tuple[str, str | None]]) -> set[str]:
    """Insert (phone, name) pairs, and the words of the new members' names; returns the phones that were new."""
    if not members:
        return set()
    now = backend().now()
    stmt = (insert_ignoring_conflicts(GroupMember.__table__, ["group_id", "phone"])
            .returning(GroupMember.id, GroupMember.phone, GroupMember.name))
    rows = [{"group_id": group.id, "phone": p, "name": n, "added_at": now} for p, n in members]
    new = db().execute(stmt, rows).all()
    names.index(db(), [(id_, name) for id_, _, name in new])
    added = {phone for _, phone, _ in new}
    if added:
        group.updated_at = now
        etag.touch(group)
    return added


@router.post("/{institution}/{name}/members")
def add_members(institution: str, name: str, body: MembersIn):
    group = get_group(institution, name, write=True)
    errors, members, seen = [], [], set()
    for i, m in enumerate(body.members):
        try:
            phone = normalise_msisdn(m.phone)
        except RuleError as exc:
            errors.append({"field": f"members[{i}].phone", "message": str(exc)})
            continue
        if phone not in seen:
            seen.add(phone)
            members.append((phone, (m.name or "").strip() or None))
    if errors:
        first = errors[0]["message"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise Problem(422, f"invalid number {first}{more}; no member was added", errors=errors)
    added = _add(group, members)
    db().flush()
    audit.record("add-members", "sms-group", f"{group.institution}/{group.name}", institution=group.institution,
                 after={"added": sorted(added)})
    return {"group": _out(group), "added": len(added), "already_members": len(members) - len(added)}


@router.post("/{institution}/{name}/members/remove")
def remove_members(institution: str, name: str, body: RemoveIn):
    group = get_group(institution, name, write=True)
    phones = []
    for i, raw in enumerate(body.phones):
        try:
            phones.append(rules.recipient(raw))
        except RuleError as exc:
            raise invalid(str(exc), f"phones[{i}]") from None
    removed: list[str] = []
    for part in chunked(sorted(set(phones))):
        present = list(db().scalars(select(GroupMember.phone).where(GroupMember.group_id == group.id,
                                                                     GroupMember.phone.in_(part))))
        if present:
            names.forget(db(), GroupMember.group_id == group.id, GroupMember.phone.in_(present))
            db().execute(delete(GroupMember).where(GroupMember.group_id == group.id, GroupMember.phone.in_(present)))
            removed += present
    if removed:
        group.updated_at = backend().now()
        etag.touch(group)
        db().flush()
        audit.record("remove-members", "sms-group", f"{group.institution}/{group.name}",
                     institution=group.institution, before={"removed": sorted(removed)})
    missing = sorted(set(phones) - set(removed))
    return {"group": _out(group), "removed": len(removed), "not_members": [phone_out(p) for p in missing]}


@router.post("/{institution}/{name}/members/bulk", response_model=BulkMembersOut)
def import_members(institution: str, name: str, body: BulkMembersIn):
    """One chunk of `egactl sms group import`: a row already in the group counts as done."""
    group = get_group(institution, name, write=True)
    results: list[dict[str, Any]] = []
    todo: list[tuple[int, str, str | None]] = []
    for item in body.items:
        try:
            todo.append((item.line, normalise_msisdn(item.phone), (item.name or "").strip() or None))
        except RuleError as exc:
            results.append({"line": item.line, "status": "failed", "error": str(exc)})
    added = _add(group, list({p: (p, n) for _, p, n in todo}.values()))
    for line, phone, _ in todo:
        status = "added" if phone in added else "exists"
        added.discard(phone)  # a number twice in one chunk: the second is "exists"
        results.append({"line": line, "status": status, "id": phone_out(phone)})
    db().flush()
    audit.record("import-members", "sms-group", f"{group.institution}/{group.name}", institution=group.institution,
                 after={"rows": len(body.items), "added": sum(r["status"] == "added" for r in results)})
    results.sort(key=lambda r: r["line"])
    return {"results": results}
