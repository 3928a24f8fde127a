"""What the routes and reconcile do to mailboxes: find, create, move, transition, purge.

Everything here runs inside the request's one transaction (``db()``), but for
``purge_due`` (the retention worker's) and ``holdings`` (the core's); the
lifecycle comes from ``egactl_mail.rules.MAILBOX`` and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Iterable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from egactl.plugin.rules import time_for_people
from egactl.plugin.server import (Institution, Problem, audit, backend, db, etag, insert_unique, invalid, iso,
                                  not_found, principal)
from egactl_mail import rules
from egactl_mail.server import names
from egactl_mail.server.addresses import Allocator
from egactl_mail.server.models import MailAddress, Mailbox, MailDomain, MailList, MailListMember

PLUGIN = "mail"


def setting(key: str) -> Any:
    return backend().setting(PLUGIN, key)


# -- reading -----------------------------------------------------------------------------


def serialize(m: Mailbox, *, mask: bool = False, aliases: list[str] | None = None) -> dict[str, Any]:
    """The mailbox as the API shows it. ``mask``: for the help desk, the HR key is hidden.

    Names stay visible to the help desk on purpose: they are already in the
    government address book every member of staff sees, and a help desk that
    looks people up by name must be able to read the names it finds.
    """
    given = m.preferred_name or (rules.first_name(m.given_name) if m.given_name else None)
    data = {
        "id": m.id, "address": m.address, "institution": m.institution, "domain": m.domain,
        "employee_number": rules.mask_employee_number(m.employee_number) if mask else m.employee_number,
        "given_name": m.given_name, "family_name": m.family_name, "preferred_name": m.preferred_name,
        "display_name": f"{given} {m.family_name}" if given and m.family_name else None,
        "title": m.title, "department": m.department, "status": m.status,
        "login": rules.LOGIN[m.status], "delivery": rules.DELIVERY[m.status],
        "quota_mb": m.quota_mb, "used_mb": m.used_mb,
        "usage_percent": round(100.0 * m.used_mb / m.quota_mb, 1) if m.quota_mb else 0.0,
        "must_change_password": m.must_change_password, "password_set_at": iso(m.password_set_at),
        "suspended_by": m.suspended_by, "retain_until": iso(m.retain_until),
        "status_changed_at": iso(m.status_changed_at), "version": m.version,
        "created_at": iso(m.created_at), "updated_at": iso(m.updated_at),
    }
    if aliases is not None:
        data["aliases"] = aliases
    return data


def out(m: Mailbox, *, with_aliases: bool = False) -> dict[str, Any]:
    """``serialize`` for the current caller (masked for the help desk)."""
    aliases = alias_addresses(m.id) if with_aliases else None
    return serialize(m, mask=principal().masks_personal_data, aliases=aliases)


def alias_addresses(mailbox_id: int) -> list[str]:
    return list(db().scalars(select(MailAddress.address).where(MailAddress.mailbox_id == mailbox_id,
                                                               MailAddress.kind == "alias")
                             .order_by(MailAddress.address)))


def find(ref: str) -> Mailbox:
    """A mailbox by address (its own or an alias) or by employee number; 404 otherwise.

    A purged mailbox is still found by its old address (as a tombstone) when
    nothing else has the address now, until the privacy retention makes that
    address a pseudonym (egactl_mail.server.privacy).
    """
    session = db()
    ref = ref.strip()
    if "@" in ref:
        address = rules.normalise_address(ref)
        claim = session.scalar(select(MailAddress).where(MailAddress.address == address))
        if claim is not None:
            if claim.kind == "list":
                raise Problem(404, f"{address} is a distribution list, not a mailbox "
                                   f"(see `egactl mail list-group show {address}`)")
            return session.get(Mailbox, claim.mailbox_id)
        tomb = session.scalar(select(Mailbox).where(Mailbox.address == address, Mailbox.status == rules.PURGED)
                              .order_by(Mailbox.id.desc()).limit(1))
        if tomb is not None:
            return tomb
        raise not_found(f"mailbox {address}")
    number = rules.normalise_employee_number(ref)
    m = session.scalar(select(Mailbox).where(Mailbox.employee_number == number))
    if m is None:
        raise not_found(f"mailbox for employee number {number}")
    return m


def guarded(ref: str) -> Mailbox:
    """The mailbox a change is about, locked for this request and held against its If-Match."""
    m = load(ref, write=True)
    return etag.guard(m, f"mailbox {m.address}")


def load(ref: str, *, write: bool = False) -> Mailbox:
    m = find(ref)
    p = principal()
    # Found by employee number: a refusal must not tell another institution's
    # operator that the person exists, nor where (it reads as "not found").
    lookup = None if "@" in ref else f"mailbox for employee number {rules.normalise_employee_number(ref.strip())}"
    if write:
        p.check_write(m.institution, lookup=lookup)
    else:
        p.check_read(m.institution, lookup=lookup)
    return m


def claim_address(address: str, institution: str, *, kind: str, mailbox: Mailbox | None = None,
                  mail_list: Any = None) -> MailAddress:
    """Claim an alias's or a list's ``address`` for ``institution`` (flushed).

    422 if its domain is not one of the institution's; 409 if anything has the
    address, a deleted mailbox's retained ones included (the unique index is the judge).
    """
    local, domain = rules.split_address(address)
    if domain not in {d.domain for d in domains_of(institution)}:
        raise invalid(f"{domain} is not a mail domain of {institution}", field="address")
    alloc = Allocator(db(), backend().now())
    taken = f"address {address} is already taken"
    if alloc.is_taken(local, domain):
        raise Problem(409, taken)
    return insert_unique(alloc.claim(local, domain, kind=kind, institution=institution, mailbox=mailbox,
                                     mail_list=mail_list), taken)


def institution_codes(codes: Iterable[str]) -> set[str]:
    """Which of these institution codes exist."""
    codes = sorted(set(codes))
    if not codes:
        return set()
    return set(db().scalars(select(Institution.code).where(Institution.code.in_(codes))))


def domains_of(institution: str) -> list[MailDomain]:
    return list(db().scalars(select(MailDomain).where(MailDomain.institution == institution)
                             .order_by(MailDomain.is_primary.desc(), MailDomain.id)))


# -- creating ----------------------------------------------------------------------------


@dataclass
class Provisioner:
    """Creates mailboxes for one request, reading each institution's domains once."""

    session: Session
    now: dt.datetime
    alloc: Allocator
    default_quota: int
    _domains: dict[str, list[MailDomain]] = field(default_factory=dict)
    _institutions: set[str] = field(default_factory=set)

    @classmethod
    def for_request(cls) -> "Provisioner":
        now = backend().now()
        return cls(db(), now, Allocator(db(), now), int(setting("default_quota_mb")))

    def known_institutions(self, codes: Iterable[str]) -> set[str]:
        missing = set(codes) - self._institutions
        if missing:
            self._institutions |= institution_codes(missing)
        return self._institutions

    def domains(self, institution: str) -> list[MailDomain]:
        if institution not in self._domains:
            self._domains[institution] = domains_of(institution)
        return self._domains[institution]

    def domain(self, institution: str, wanted: str | None = None) -> MailDomain:
        if institution not in self.known_institutions([institution]):
            raise not_found(f"institution {institution}")
        rows = self.domains(institution)
        if wanted:
            for row in rows:
                if row.domain == wanted:
                    return row
            raise Problem(422, f"{wanted} is not a mail domain of {institution}",
                          errors=[{"field": "domain", "message": "not one of the institution's domains"}])
        if not rows:
            raise Problem(422, f"institution {institution} has no mail domain; an admin adds one with "
                               f"`egactl mail domains create DOMAIN --institution {institution}`",
                          errors=[{"field": "institution", "message": "no mail domain"}])
        return rows[0]

    def base_for(self, person: Any, domain: MailDomain) -> str:
        try:
            return rules.local_part_for(person.given_name, person.family_name, domain.naming_rule,
                                    getattr(person, "preferred_name", None))
        except rules.UnusableName as exc:
            raise invalid(f"{exc}; pass an explicit address", field="given_name") from None

    def address_for(self, person: Any, domain: MailDomain) -> tuple[str, str]:
        """(local part, domain) for a new mailbox: the explicit one, or the next free generated one."""
        explicit = getattr(person, "address", None)
        if explicit:
            local, dom = rules.split_address(explicit)
            if dom not in {d.domain for d in self.domains(person.institution)}:
                raise Problem(422, f"{dom} is not a mail domain of {person.institution}",
                              errors=[{"field": "address", "message": "domain not of this institution"}])
            if self.alloc.is_taken(local, dom):
                raise Problem(409, f"address {explicit} is already taken")
            return local, dom
        return self.alloc.next_free(self.base_for(person, domain), domain.domain), domain.domain

    def values(self, person: Any, local: str, dom: str) -> dict[str, Any]:
        """The column values of a new active mailbox for ``person`` at ``local@dom``."""
        given, family = person.given_name, person.family_name
        preferred = getattr(person, "preferred_name", None)
        return {
            "institution": person.institution, "domain": dom, "address": f"{local}@{dom}",
            "employee_number": person.employee_number, "given_name": given, "family_name": family,
            "preferred_name": preferred, "title": person.title, "department": person.department,
            "quota_mb": getattr(person, "quota_mb", None) or self.default_quota, "used_mb": 0, "status": rules.ACTIVE,
            "deleted_from": None, "suspended_by": None, "status_changed_at": self.now, "retain_until": None,
            "password_hash": None, "password_set_at": None, "must_change_password": False, "version": 1,
            "created_at": self.now, "updated_at": self.now,
        }

    def wanted_domain(self, person: Any) -> MailDomain:
        explicit = getattr(person, "address", None)
        return self.domain(person.institution, getattr(person, "domain", None)
                           or (rules.split_address(explicit)[1] if explicit else None))

    def build(self, person: Any) -> Mailbox:
        """Add a new active mailbox and its address claim to the session (flushed by the caller)."""
        local, dom = self.address_for(person, self.wanted_domain(person))
        m = Mailbox(**self.values(person, local, dom))
        self.session.add(m)
        self.alloc.claim(local, dom, kind="mailbox", institution=person.institution, mailbox=m)
        names.index(self.session, m)
        return m


def existing_for(numbers: Iterable[str]) -> dict[str, Mailbox]:
    numbers = sorted(set(numbers))
    found: dict[str, Mailbox] = {}
    for i in range(0, len(numbers), 500):
        for m in db().scalars(select(Mailbox).where(Mailbox.employee_number.in_(numbers[i:i + 500]))):
            found[m.employee_number] = m
    return found


def describe_existing(m: Mailbox) -> str:
    """How to name someone else's mailbox to this caller without revealing what they may not read."""
    if principal().can_read(m.institution):
        return f"{m.address} ({m.status})"
    return "a mailbox in another institution"


class Exists(Exception):
    """The mailbox a create asks for is there already, exactly as asked (re-running a create is safe)."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox


def refuse_existing(person: Any) -> None:
    """A create for an employee who has a mailbox: :class:`Exists` if it is the one asked for
    (same institution and details, an active or suspended one the caller may see), else 409."""
    existing = existing_for([person.employee_number]).get(person.employee_number)
    if existing is None:
        return
    wanted_domain = getattr(person, "domain", None)
    if (principal().can_read(existing.institution) and existing.status in rules.EXISTING
            and not differences(existing, person) and (not wanted_domain or wanted_domain == existing.domain)):
        raise Exists(existing)
    raise Problem(409, f"employee {person.employee_number} already has {describe_existing(existing)}")


def create_one(person: Any) -> Mailbox:
    """A new mailbox; :class:`Exists` if the one asked for is there already."""
    principal().check_write(person.institution)
    prov = Provisioner.for_request()
    refuse_existing(person)
    # The domain's lock (taken by build) keeps the address ours. The employee number was
    # read before it: a create for the same person may have committed since, and the
    # unique index on the number is the judge.
    m = insert_unique(prov.build(person), f"employee {person.employee_number} already has a mailbox")
    audit.record("create", "mailbox", m.address, institution=m.institution, after=serialize(m))
    return m


def preview_one(person: Any) -> dict[str, Any]:
    """What ``create_one`` would do, without doing it (``--dry-run``)."""
    principal().check_write(person.institution)
    prov = Provisioner.for_request()
    refuse_existing(person)
    local, dom = prov.address_for(person, prov.wanted_domain(person))
    return {"address": f"{local}@{dom}", "institution": person.institution, "employee_number": person.employee_number,
            "given_name": person.given_name, "family_name": person.family_name, "title": person.title,
            "department": person.department, "quota_mb": person.quota_mb or prov.default_quota,
            "status": "would be created"}


SAME_FIELDS = ("given_name", "family_name", "preferred_name", "title", "department", "quota_mb")


def differences(m: Mailbox, person: Any) -> list[str]:
    """Where an existing mailbox differs from a row that asks for it (fields the row sets)."""
    diffs = []
    if m.institution != person.institution:
        diffs.append(f"institution {m.institution} ≠ {person.institution}")
    for f in SAME_FIELDS:
        wanted = getattr(person, f, None)
        if wanted is None and f not in ("given_name", "family_name"):
            continue
        if getattr(m, f) != wanted:
            diffs.append(f"{f} {getattr(m, f)!r} ≠ {wanted!r}")
    if getattr(person, "address", None) and person.address != m.address:
        diffs.append(f"address {m.address} ≠ {person.address}")
    return diffs


def preflight(institutions: list[str]) -> None:
    """Each institution: the caller may write there, it exists, it has a mail domain."""
    prov = Provisioner.for_request()
    for inst in sorted(set(institutions)):
        principal().check_write(inst)
        prov.domain(inst)


def create_many(items: list[Any]) -> list[dict[str, Any]]:
    """The bulk import: one transaction, one read of what exists, three inserts.

    A row whose mailbox already exists with the same details is "exists"
    (done, not failed): that makes re-running an import, or a resumed one whose
    last answer was lost, harmless. New rows go in with multi-row INSERTs rather
    than one ORM object each: the import is the path that must keep up with a
    ministry's whole staff list.
    """
    p = principal()
    for inst in sorted({it.institution for it in items}):
        p.check_write(inst)
    prov = Provisioner.for_request()
    session = db()
    existing = existing_for(it.employee_number for it in items)
    # Each new row's domain and address base, then lock every domain (in order) and
    # read all the taken names of those bases at once.
    planned: list[tuple[Any, MailDomain | None, str | None, str | None]] = []
    stems: dict[str, set[str]] = {}
    for it in items:
        try:
            dom = prov.wanted_domain(it)
            base = None
            if it.employee_number not in existing:
                base = rules.split_address(it.address)[0] if it.address else prov.base_for(it, dom)
                stems.setdefault(dom.domain, set()).add(rules.stem(base))
            planned.append((it, dom, base, None))
        except Problem as exc:
            planned.append((it, None, None, exc.detail))
    prov.alloc.lock(*sorted(stems))
    for d, s in stems.items():
        prov.alloc.preload(d, s)

    results: list[dict[str, Any]] = []
    new: list[tuple[dict[str, Any], str, str]] = []
    seen: dict[str, Any] = {}
    for it, dom, base, err in planned:
        if err is not None:
            results.append({"line": it.line, "status": "failed", "error": err})
            continue
        m = existing.get(it.employee_number) or seen.get(it.employee_number)
        if m is not None:
            if m.status == rules.DELETED:
                results.append({"line": it.line, "status": "failed",
                                "error": f"employee {it.employee_number} has a deleted mailbox "
                                         f"({describe_existing(m)}); undelete it instead"})
                continue
            diffs = differences(m, it)
            if diffs:
                results.append({"line": it.line, "status": "failed",
                                "error": f"employee {it.employee_number} already has {describe_existing(m)} "
                                         f"with other details: {'; '.join(diffs)}"})
            else:
                results.append({"line": it.line, "status": "exists", "id": m.address})
            continue
        if it.address:
            local = base
            if prov.alloc.is_taken(local, dom.domain):
                results.append({"line": it.line, "status": "failed", "error": f"address {it.address} is already taken"})
                continue
        else:
            local = prov.alloc.next_free(base, dom.domain)
        prov.alloc.reserve(local, dom.domain)
        values = prov.values(it, local, dom.domain)
        seen[it.employee_number] = SimpleNamespace(**values)
        new.append((values, local, dom.domain))
        results.append({"line": it.line, "status": "created", "id": values["address"]})
    if new:
        ids = session.execute(insert(Mailbox).returning(Mailbox.id, sort_by_parameter_order=True),
                              [values for values, _, _ in new]).scalars().all()
        session.execute(insert(MailAddress), [
            {"address": values["address"], "local_part": local, "domain": dom, "stem": rules.stem(local), "kind": "mailbox",
             "institution": values["institution"], "mailbox_id": id_, "list_id": None, "created_at": prov.now}
            for id_, (values, local, dom) in zip(ids, new)])
        names.index_many(session, [(id_, values) for id_, (values, _, _) in zip(ids, new)])
        audit.record_many("create", "mailbox", [(values["address"], values["institution"],
                                                 serialize(SimpleNamespace(id=id_, **values)))
                                                for id_, (values, _, _) in zip(ids, new)])
    return results


# -- changing ----------------------------------------------------------------------------


def bump(m: Mailbox, now: dt.datetime) -> None:
    """A change: the ORM gives the row its next version when it is written."""
    m.updated_at = now


def transition(m: Mailbox, action: str, *, reason: str | None = None, by: str = "manual") -> Mailbox:
    """Move ``m`` along the lifecycle (409 if the state machine says no), audited."""
    now = backend().now()
    target = rules.MAILBOX.next_state(action, m.status)  # IllegalTransition: the frame answers 409
    if target == rules.PREVIOUS:
        target = rules.returning_to(m.deleted_from)
    if action == "undelete" and m.family_name is None:  # every mailbox is made with one: erased
        raise Problem(409, f"cannot undelete {m.address}: its owner's personal data was erased "
                           f"(egactl privacy erase); create a new mailbox instead", state=m.status)
    if action == "undelete" and m.retain_until is not None and now >= m.retain_until:
        raise Problem(409, f"cannot undelete {m.address}: its retention period ended at "
                           f"{time_for_people(m.retain_until)}; it is due to be purged", state=m.status)
    if action == "purge" and m.retain_until is not None and now < m.retain_until:
        raise Problem(409, f"cannot purge {m.address}: it is retained until {time_for_people(m.retain_until)}",
                      state=m.status, retain_until=iso(m.retain_until))
    before = serialize(m)
    if action == "purge":
        purge(db(), m, now)
    else:
        if action == "delete":
            m.deleted_from = m.status
            m.retain_until = now + dt.timedelta(days=int(setting("retention_days")))
        elif action == "undelete":
            m.deleted_from = None
            m.retain_until = None
        if target == rules.SUSPENDED and action == "suspend":
            m.suspended_by = by
        elif target == rules.ACTIVE:
            m.suspended_by = None
        m.status = target
        m.status_changed_at = now
        bump(m, now)
    db().flush()
    audit.record(action, "mailbox", m.address, institution=m.institution, before=before, after=serialize(m),
                 reason=reason)
    return m


def purge(session: Session, m: Mailbox, now: dt.datetime) -> None:
    """Release every address of ``m`` and erase its personal data; a tombstone stays.

    The tombstone (id, institution, old address, "purged") lets `mail show`
    answer "purged on …" instead of "not found", and keeps audit entries
    meaningful; names, the HR key and the password hash are gone.
    """
    session.execute(delete(MailListMember).where(MailListMember.mailbox_id == m.id))
    session.execute(delete(MailAddress).where(MailAddress.mailbox_id == m.id))
    m.employee_number = None
    m.given_name = m.family_name = m.preferred_name = None
    names.forget(session, m.id)
    m.title = m.department = None
    m.password_hash = None
    m.password_set_at = None
    m.must_change_password = False
    m.used_mb = 0
    m.status = rules.PURGED
    m.deleted_from = None
    m.suspended_by = None
    m.status_changed_at = now
    m.updated_at = now


def holdings(session: Session, institution: str) -> dict[str, int]:
    """What ``institution`` still holds here (``egactl institutions delete`` refuses while any):
    mailboxes (a deleted one too, while its address is retained), purged mailboxes'
    records (kept for the audit trail), mail domains and distribution lists."""

    def count(model, *where) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.institution == institution, *where))

    return {"mailboxes": count(Mailbox, Mailbox.status != rules.PURGED),
            "purged mailboxes (kept as records)": count(Mailbox, Mailbox.status == rules.PURGED),
            "mail domains": count(MailDomain), "distribution lists": count(MailList)}


def purge_due(session: Session, now: dt.datetime, limit: int = 500) -> int:
    """The retention worker's round: purge deleted mailboxes whose retention has ended.

    Runs outside any request, so it writes its own audit entries as "system".
    """
    due = list(session.scalars(select(Mailbox).where(Mailbox.status == rules.DELETED, Mailbox.retain_until <= now)
                               .order_by(Mailbox.id).limit(limit)))
    for m in due:
        before = serialize(m)
        purge(session, m, now)
        audit.record("purge", "mailbox", m.address, institution=m.institution, reason="retention period ended",
                     before=before, after=serialize(m), session=session, at=now)
    return len(due)


def move(m: Mailbox, institution: str, prov: Provisioner, *, local: str | None = None) -> str:
    """A transfer: new address on the new institution's primary domain; the old
    address stays claimed as an alias so mail keeps arriving. Returns the new address.

    ``local``: the local part a plan already chose (reconcile); else the next free one.
    """
    dom = prov.domain(institution)
    if local is None or prov.alloc.is_taken(local, dom.domain):
        local = prov.alloc.next_free(prov.base_for(m, dom), dom.domain)
    old = db().scalar(select(MailAddress).where(MailAddress.address == m.address))
    if old is not None:
        old.kind = "alias"
    prov.alloc.claim(local, dom.domain, kind="mailbox", institution=institution, mailbox=m)
    m.institution = institution
    m.domain = dom.domain
    m.address = f"{local}@{dom.domain}"
    return m.address


def update(m: Mailbox, changes: dict[str, Any], *, reason: str | None = None, action: str = "update") -> Mailbox:
    """Apply a PATCH (or a reconcile move); audited with before and after."""
    now = backend().now()
    if not changes:
        return m
    op = "resize" if set(changes) == {"quota_mb"} else ("move" if "institution" in changes else "update")
    rules.MAILBOX.next_state(op, m.status)  # IllegalTransition: the frame answers 409
    before = serialize(m)
    new_inst = changes.pop("institution", None)
    if new_inst and new_inst != m.institution:
        principal().check_write(new_inst)
        prov = Provisioner.for_request()
        prov.alloc.lock(*sorted({m.domain, *(d.domain for d in prov.domains(new_inst))}))
        move(m, new_inst, prov)
    for f, value in changes.items():
        if value is None and f in ("given_name", "family_name", "quota_mb"):
            raise Problem(422, f"{f} cannot be empty", errors=[{"field": f, "message": "required"}])
        setattr(m, f, value)
    if {"given_name", "family_name", "preferred_name"} & set(changes):
        names.index(db(), m)
    bump(m, now)
    db().flush()
    audit.record(action, "mailbox", m.address, institution=m.institution, before=before, after=serialize(m),
                 reason=reason)
    return m
