"""Reconciling mailboxes with the HR roster (HCMIS): plan, safety brake, apply.

The plan is computed here, on the server, inside the request's transaction:
one read of the institution's mailboxes against the uploaded roster, so it is
exact (no page of mailboxes can change between reads), cheap for a ministry's
whole staff (two indexed queries and a dictionary), and ``--apply`` carries
out the very plan it computed, atomically: all of it or nothing.

What the plan contains, per roster row or mailbox in scope:

- ``create``: on the roster, no mailbox (a joiner);
- ``suspend``: an active mailbox whose employee number is not on the roster (a leaver);
- ``update``: department, title or institution differ (a mover); an institution
  change gives a new address and keeps the old one as an alias;
- ``restore``: on the roster again, and suspended by an earlier reconcile (never
  one suspended by hand: that was someone's decision, not HR's);
- ``skip``: needs a person (a deleted mailbox, a move into an institution the
  caller can't change).

The safety brake: more suspensions than min(max(1, 5% of active mailboxes), 50)
are refused unless ``allow_mass_suspend`` — a truncated export must not lock
out a ministry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from egactl.plugin.server import Problem, audit, db, not_found, principal
from egactl_mail import rules
from egactl_mail.server import service
from egactl_mail.server.models import Mailbox
from egactl_mail.server.schemas import ReconcileIn, RosterRow

ACTIONS = ("create", "suspend", "update", "restore", "skip")
OTHER_INSTITUTION = "(another institution)"
HIDDEN = "(hidden)"
FOREIGN_REASON = ("this employee number has a mailbox in another institution; moving it needs an admin "
                  "or an operator of both institutions")


@dataclass
class Joiner:
    """A roster row as ``Provisioner.build`` takes it, with the planned address."""

    institution: str
    employee_number: str
    given_name: str
    family_name: str
    title: str | None
    department: str | None
    address: str
    preferred_name: str | None = None
    quota_mb: int | None = None
    domain: str | None = None


def brake_limit(active: int, percent: float, cap: int) -> int:
    """How many suspensions one run may make without ``--allow-mass-suspend``.

    At least one, so a single leaver in a small office does not need the override.
    """
    return min(max(1, int(active * percent // 100)), cap)


def _display(given: str | None, family: str | None) -> str | None:
    return f"{given} {family}" if given and family else None


def _row_changes(m: Mailbox, r: RosterRow) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    if m.institution != r.institution:
        changes["institution"] = [m.institution, r.institution]
    for f in ("department", "title"):
        if f in r.model_fields_set and getattr(m, f) != getattr(r, f):
            changes[f] = [getattr(m, f), getattr(r, f)]
    return changes


def compute(body: ReconcileIn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the plan as the API shows it, what apply needs to carry it out)."""
    p = principal()
    session = db()
    roster: dict[str, RosterRow] = {}
    for r in body.roster:
        if r.employee_number in roster:
            first = roster[r.employee_number]
            raise Problem(422, f"the roster lists employee number {r.employee_number} twice "
                               f"(lines {first.line} and {r.line})")
        roster[r.employee_number] = r
    scope = {body.institution} if body.institution else {r.institution for r in body.roster}
    known = service.institution_codes(scope | {r.institution for r in body.roster})
    for inst in sorted(scope):
        if inst not in known:
            raise not_found(f"institution {inst}")
        p.check_write(inst)

    in_scope = list(session.scalars(select(Mailbox).where(Mailbox.institution.in_(sorted(scope)),
                                                          Mailbox.status != rules.PURGED).order_by(Mailbox.id)))
    by_emp = {m.employee_number: m for m in in_scope if m.employee_number}
    wanted = [r for r in body.roster if r.institution in scope]
    elsewhere = [r.employee_number for r in wanted if r.employee_number not in by_emp]
    by_emp.update(service.existing_for(elsewhere))
    # Mailboxes in scope whose person the roster puts in another institution: movers out.
    movers_out = [roster[m.employee_number] for m in in_scope
                  if m.employee_number in roster and roster[m.employee_number].institution not in scope]

    prov = service.Provisioner.for_request()
    actions: list[dict[str, Any]] = []
    planned: list[tuple[str, Any, Any]] = []  # (action, row or mailbox, extra)

    def act(action: str, r: RosterRow | None, m: Mailbox | None, **extra: Any) -> dict[str, Any]:
        if m is not None and not p.can_read(m.institution):
            # The roster is the caller's; the mailbox is another institution's staff
            # record: show that it exists (the plan must say why the row is skipped),
            # not where, nor its department, title or address.
            if extra.get("changes"):
                extra["changes"] = {k: [OTHER_INSTITUTION if k == "institution" else HIDDEN, new]
                                    for k, (_old, new) in extra["changes"].items()}
            if action == "skip":
                extra["reason"] = FOREIGN_REASON
        item = {"action": action,
                "employee_number": r.employee_number if r else m.employee_number,
                "institution": r.institution if r else m.institution,
                "name": _display(r.given_name, r.family_name) if r else _display(m.given_name, m.family_name),
                "address": m.address if m is not None and p.can_read(m.institution) else None,
                "line": r.line if r else None, "changes": None, "reason": None, **extra}
        actions.append(item)
        return item

    # Read every domain and taken name the plan may allocate in, once, under the domain locks.
    targets = {r.institution for r in wanted if r.employee_number not in by_emp}
    targets |= {r.institution for r in wanted + movers_out
                if r.employee_number in by_emp and by_emp[r.employee_number].institution != r.institution
                and p.can_write(r.institution)}
    domain_rows = {}
    for inst in sorted(targets & known):
        try:
            domain_rows[inst] = prov.domain(inst)
        except Problem:
            pass  # rows of this institution are skipped below with the reason
    prov.alloc.lock(*sorted({d.domain for d in domain_rows.values()}))
    stems: dict[str, set[str]] = {}
    for r in wanted + movers_out:
        d = domain_rows.get(r.institution)
        if d is not None:
            try:
                stems.setdefault(d.domain, set()).add(rules.stem(prov.base_for(r, d)))
            except Problem:
                pass
    for d, s in stems.items():
        prov.alloc.preload(d, s)

    def allocate(r: RosterRow) -> str:
        d = domain_rows.get(r.institution)
        if d is None:
            raise Problem(422, f"institution {r.institution} has no mail domain" if r.institution in known
                          else f"no institution {r.institution} in the directory")
        local = prov.alloc.next_free(prov.base_for(r, d), d.domain)
        prov.alloc.taken.setdefault((d.domain, rules.stem(local)), set()).add(local)
        return f"{local}@{d.domain}"

    for r in wanted + movers_out:
        m = by_emp.get(r.employee_number)
        if m is None:
            try:
                address = allocate(r)
            except Problem as exc:
                act("skip", r, None, reason=exc.detail)
                continue
            act("create", r, None, address=address)
            planned.append(("create", r, address))
            continue
        if m.status == rules.DELETED:
            act("skip", r, m, reason=f"mailbox {m.address} is deleted; undelete it if the person is back")
            continue
        changes = _row_changes(m, r)
        if "institution" in changes:
            if m.institution not in scope and not p.can_write(m.institution):
                act("skip", r, m, changes=changes,
                    reason=f"moving from {m.institution} needs an operator of {m.institution} or an admin")
                continue
            if not p.can_write(r.institution):
                act("skip", r, m, changes=changes,
                    reason=f"moving to {r.institution} needs an operator of {r.institution} or an admin")
                continue
            try:
                new_address = allocate(r)
            except Problem as exc:
                act("skip", r, m, changes=changes, reason=exc.detail)
                continue
            changes["address"] = [m.address, new_address]
        returning = m.status == rules.SUSPENDED and m.suspended_by == "reconcile"
        if returning:
            act("restore", r, m, changes=changes or None)
            planned.append(("restore", m, changes))
        elif changes:
            act("update", r, m, changes=changes)
            planned.append(("update", m, changes))

    active = 0
    for m in in_scope:
        if m.status != rules.ACTIVE:
            continue
        active += 1
        if m.employee_number not in roster:
            act("suspend", None, m, reason="not on the roster")
            planned.append(("suspend", m, None))

    counts = {a: 0 for a in ACTIONS}
    for item in actions:
        counts[item["action"]] += 1
    counts["unchanged"] = len(wanted) + len(movers_out) - sum(counts[a] for a in ("create", "update", "restore", "skip"))
    # Rows of institutions outside the scope (and not leaving it): not this run's business.
    counts["other_institutions"] = len(body.roster) - len(wanted) - len(movers_out)
    pct = float(service.setting("mass_suspend_percent"))
    cap = int(service.setting("mass_suspend_max"))
    limit = brake_limit(active, pct, cap)
    tripped = counts["suspend"] > limit
    digest_src = json.dumps([{k: a[k] for k in a if k != "line"} for a in actions], sort_keys=True, default=str)
    plan = {
        "institutions": sorted(scope), "roster_rows": len(body.roster), "counts": counts, "actions": actions,
        "brake": {"active": active, "suspensions": counts["suspend"], "limit": limit, "tripped": tripped,
                  "overridden": tripped and body.allow_mass_suspend},
        "digest": hashlib.sha256(digest_src.encode()).hexdigest()[:16], "applied": False,
    }
    return plan, {"planned": planned}


def apply(body: ReconcileIn, plan: dict[str, Any], work: dict[str, Any]) -> None:
    """Carry out ``plan`` in this transaction, or refuse (409) and change nothing."""
    if body.expect_digest and body.expect_digest != plan["digest"]:
        raise Problem(409, "the plan changed since it was shown (mailboxes changed meanwhile); "
                           "run reconcile again to see the new plan", digest=plan["digest"])
    brake = plan["brake"]
    if brake["tripped"] and not body.allow_mass_suspend:
        share = 100.0 * brake["suspensions"] / brake["active"] if brake["active"] else 100.0
        raise Problem(409, f"safety brake: the plan suspends {brake['suspensions']} of {brake['active']} active "
                           f"mailboxes ({share:.0f}%), more than the limit of {brake['limit']}; nothing was changed "
                           "(check the roster is complete, then pass --allow-mass-suspend)", brake=brake)
    reason = f"reconcile with roster {body.source}" if body.source else "reconcile with the HR roster"
    prov = service.Provisioner.for_request()
    domains = set()
    for kind, obj, extra in work["planned"]:
        if kind == "create":
            domains.add(rules.split_address(extra)[1])
        elif extra and "address" in extra:
            domains.add(rules.split_address(extra["address"][1])[1])
            domains.add(obj.domain)
    prov.alloc.lock(*sorted(domains))
    creates = [(obj, extra) for kind, obj, extra in work["planned"] if kind == "create"]
    by_domain: dict[str, set[str]] = {}
    for _, address in creates:
        local, dom = rules.split_address(address)
        by_domain.setdefault(dom, set()).add(rules.stem(local))
    for dom, stems in by_domain.items():
        prov.alloc.preload(dom, stems)
    created = []
    for r, address in creates:
        joiner = Joiner(institution=r.institution, employee_number=r.employee_number, given_name=r.given_name,
                        family_name=r.family_name, title=r.title, department=r.department, address=address)
        created.append(prov.build(joiner))
    db().flush()
    for m in created:
        audit.record("create", "mailbox", m.address, institution=m.institution, after=service.serialize(m),
                     reason=reason)
    for kind, obj, extra in work["planned"]:
        if kind == "suspend":
            service.transition(obj, "suspend", reason=f"{reason}: not on the roster", by="reconcile")
        elif kind in ("update", "restore"):
            if kind == "restore":
                service.transition(obj, "resume", reason=f"{reason}: on the roster again")
            if extra:
                _move_and_update(obj, extra, prov, reason)


def _move_and_update(m: Mailbox, changes: dict[str, list[Any]], prov: service.Provisioner, reason: str) -> None:
    before = service.serialize(m)
    if "institution" in changes:
        new_inst = changes["institution"][1]
        local = rules.split_address(changes["address"][1])[0]
        service.move(m, new_inst, prov, local=local)
    for f in ("department", "title"):
        if f in changes:
            setattr(m, f, changes[f][1])
    service.bump(m, prov.now)
    db().flush()
    audit.record("update", "mailbox", m.address, institution=m.institution, before=before,
                 after=service.serialize(m), reason=reason)
