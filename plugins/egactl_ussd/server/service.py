"""The registry, inside a request: who holds which code, what may happen to it
next, and when a released code is free again.

Every change goes through :func:`transition`, which consults the one table
(``rules.CODE``) and writes the audit entry; allocation (:func:`allocate`) holds
the ``ussd-allocation`` lock so that concurrent requests, on SQLite or on
PostgreSQL behind several API processes, never hand out the same code.

Quarantine is computed, not swept: a ``released`` row whose quarantine has
ended *is* available, to every read and every allocation, at the instant the
backend's clock says so. Nothing has to run for the code to come back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm.exc import StaleDataError

from egactl.plugin.rules import RuleError, time_for_people
from egactl.plugin.server import Problem, audit, backend, conflict, db, invalid, iso, lock, not_found, principal
from egactl_ussd import rules
from egactl_ussd.server.models import UssdCode, UssdProvisioning
from egactl_ussd.server.quotas import check_quota

RESOURCE = "ussd_code"
ALLOCATING = ("reserve", "assign")
HOLDER_FIELDS = ("institution", "application_reference", "service_name", "purpose", "callback_url", "reason",
                 "reserved_at", "assigned_at", "suspended_at", "released_at", "quarantine_until")


def now() -> dt.datetime:
    return backend().now()


def quarantine_days() -> int:
    return int(backend().setting("ussd", "quarantine_days"))


# -- the state people see ----------------------------------------------------------


def _effective(state: str, quarantine_until: dt.datetime | None, at: dt.datetime) -> str:
    if state == "released" and quarantine_until is not None and quarantine_until <= at:
        return "available"
    return state


def effective_state(row: UssdCode, at: dt.datetime) -> str:
    return _effective(row.state, row.quarantine_until, at)


def effective_state_sql(at: dt.datetime):
    """The same rule as :func:`effective_state`, as a SQL expression for filters."""
    return case((and_(UssdCode.state == "released", UssdCode.quarantine_until <= at), "available"),
                else_=UssdCode.state)


def serialize(row: UssdCode, at: dt.datetime | None = None) -> dict[str, Any]:
    at = at or now()
    state = effective_state(row, at)
    free = state == "available"
    networks = [] if free else [{"network": p.network, "state": p.state, "note": p.note,
                                 "updated_at": iso(p.updated_at)} for p in row.networks]
    data: dict[str, Any] = {
        "code": rules.canonical(row.id),
        "number": rules.two_digits(row.id),
        "state": state,
    }
    for name in HOLDER_FIELDS:
        value = None if free else getattr(row, name)
        data[name] = iso(value) if isinstance(value, dt.datetime) else value
    data["networks"] = networks
    data["live"] = (state == "assigned" and bool(networks) and all(n["state"] == "live" for n in networks))
    data["version"] = row.version
    data["updated_at"] = iso(row.updated_at)
    return data


# -- finding codes -------------------------------------------------------------------


def parse(code: str) -> int:
    try:
        return rules.parse_code(code)
    except RuleError as exc:
        raise invalid(str(exc), "code") from None


def get(number: int) -> UssdCode:
    row = db().get(UssdCode, number)
    if row is None:
        raise not_found(f"USSD code {rules.canonical(number)}")
    return row


def list_statement(*, state: str | None = None, institution: str | None = None, not_live: bool = False):
    at = now()
    current = effective_state_sql(at)
    stmt = select(UssdCode)
    if state:
        stmt = stmt.where(current == state)
    if institution:
        stmt = stmt.where(UssdCode.institution == institution.upper(), current != "available")
    if not_live:
        stmt = stmt.where(current.in_(sorted(rules.PROVISIONED)),
                          exists().where(UssdProvisioning.code_id == UssdCode.id, UssdProvisioning.state != "live"))
    return stmt


def summary() -> dict[str, Any]:
    at = now()
    # 100 small rows: counted with the very rule every read uses (_effective).
    by_state = dict.fromkeys(rules.STATES, 0)
    for state, until in db().execute(select(UssdCode.state, UssdCode.quarantine_until)):
        by_state[_effective(state, until, at)] += 1
    quarantined, next_free = _quarantine(at)
    return {"total": rules.LAST - rules.FIRST + 1, "allocatable": rules.LAST - rules.FIRST,
            "by_state": by_state, "available": by_state["available"], "in_quarantine": quarantined,
            "next_free_at": iso(next_free), "quarantine_days": quarantine_days()}


def _quarantine(at: dt.datetime) -> tuple[int, dt.datetime | None]:
    count, first = db().execute(
        select(func.count(), func.min(UssdCode.quarantine_until))
        .where(UssdCode.state == "released", UssdCode.quarantine_until > at)).one()
    return int(count), first


# -- changing codes -------------------------------------------------------------------


def _protect_gateway(number: int, action: str) -> None:
    if number == rules.GATEWAY:
        raise conflict(f"cannot {action} {rules.canonical(number)}: it is reserved for the e-GA gateway",
                       state="reserved")


def allocate(action: str, institution: str, number: int | None, fields: dict[str, Any]) -> UssdCode:
    """Reserve or assign ``number``, or the lowest free code, to ``institution``."""
    session = db()
    # Taken before any code row is read, so what we read is what the last
    # allocator committed (PostgreSQL advisory lock; SQLite's write lock).
    lock(session, "ussd-allocation")
    at = now()
    if number is None:
        row = session.scalar(select(UssdCode)
                             .where(effective_state_sql(at) == "available", UssdCode.id != rules.GATEWAY)
                             .order_by(UssdCode.id).limit(1))
        if row is None:
            raise _no_code_available(at)
    else:
        _protect_gateway(number, action)
        row = get(number)
        held_by = row.institution if effective_state(row, at) == "reserved" else None
        if action == "assign" and held_by is not None and held_by != institution:
            raise conflict(f"cannot assign {rules.canonical(number)} to {institution}: it is reserved for {held_by}",
                           state="reserved", institution=held_by)
    if effective_state(row, at) == "available":  # one more code for the institution (assigning its reservation is not)
        check_quota(institution)
    return transition(row, action, changes={"institution": institution, **fields}, at=at)


def _no_code_available(at: dt.datetime) -> Problem:
    count, first = _quarantine(at)
    if count:
        when = time_for_people(first) if first else "unknown"
        detail = (f"no code available: none of the 99 codes is free; {count} "
                  f"{'is' if count == 1 else 'are'} in quarantine, the next frees on {when}")
    else:
        detail = ("no code available: all 99 codes are taken and none is in quarantine; "
                  "a code must be released first")
    return conflict(detail, in_quarantine=count, next_free_at=iso(first))


def transition(row: UssdCode, action: str, *, reason: str | None = None, changes: dict[str, Any] | None = None,
               at: dt.datetime | None = None) -> UssdCode:
    """Apply ``action`` to ``row`` if the lifecycle allows it, and audit it."""
    at = at or now()
    code = rules.canonical(row.id)
    _protect_gateway(row.id, action)
    current = effective_state(row, at)
    holder = None if current == "available" else row.institution
    changes = dict(changes or {})
    if action in ALLOCATING:
        # Asking for a code someone else holds is answered "it is taken" (409), not 403:
        # the caller's right is checked against the institution it asks for.
        principal().check_write(changes.get("institution"))
    elif holder is not None:
        principal().check_write(holder)
    target = rules.next_state(action, code, current, row.quarantine_until)  # Refused: the frame answers 409
    before = serialize(row, at)
    if current == "available":
        _clear(row)
    if target == "available":
        _clear(row)
    else:
        for name, value in changes.items():
            setattr(row, name, value)
        if reason is not None:
            row.reason = reason
    row.state = target
    if action == "reserve":
        row.reserved_at = at
    elif action == "assign":
        row.assigned_at = at
        row.suspended_at = None
        row.reason = None
        row.networks = [UssdProvisioning(network=n, position=i, state="pending", updated_at=at)
                        for i, n in enumerate(rules.NETWORKS)]
    elif action == "suspend":
        row.suspended_at = at
    elif action == "resume":
        row.suspended_at = None
    elif action == "release" and target == "released":
        row.released_at = at
        row.quarantine_until = at + dt.timedelta(days=quarantine_days())
        row.networks = []
    row.updated_at = at
    _flush()
    after = serialize(row, at)
    audit.record(action, RESOURCE, code, institution=holder or row.institution, before=before, after=after,
                 reason=reason)
    return row


def _clear(row: UssdCode) -> None:
    for name in HOLDER_FIELDS:
        setattr(row, name, None)
    row.networks = []


def update(row: UssdCode, changes: dict[str, Any]) -> UssdCode:
    """Change the holder's details (service name, purpose, callback URL)."""
    at = now()
    code = rules.canonical(row.id)
    _protect_gateway(row.id, "update")
    current = effective_state(row, at)
    if current != "available":
        principal().check_write(row.institution)
    if current not in rules.UPDATABLE:
        allowed = " or ".join(s for s in rules.STATES if s in rules.UPDATABLE)
        raise conflict(f"cannot update {code}: it is {current} (only a code that is {allowed} can be updated)",
                       state=current)
    before = serialize(row, at)
    changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if not changed:
        return row
    for name, value in changed.items():
        setattr(row, name, value)
    row.updated_at = at
    _flush()
    audit.record("update", RESOURCE, code, institution=row.institution, before=before, after=serialize(row, at))
    return row


def set_network(row: UssdCode, network: str, state: str, note: str | None) -> UssdCode:
    """Record where the code stands on one mobile network (e-GA staff, who deal with the networks)."""
    principal().require("admin")
    at = now()
    code = rules.canonical(row.id)
    _protect_gateway(row.id, "provision")
    current = effective_state(row, at)
    if current not in rules.PROVISIONED:
        raise conflict(f"cannot set the {network} status of {code}: it is {current} "
                       f"(only an assigned or suspended code is provisioned on the networks)", state=current)
    entry = next((p for p in row.networks if p.network == network), None)
    if entry is None:  # a code assigned before this network was added to the list
        entry = UssdProvisioning(network=network, position=rules.NETWORKS.index(network), state="pending",
                                 updated_at=at)
        row.networks.append(entry)
    if entry.state == state and entry.note == note:
        return row
    before = serialize(row, at)
    entry.state, entry.note, entry.updated_at = state, note, at
    row.updated_at = at
    _flush()
    audit.record("network-status", RESOURCE, code, institution=row.institution, before=before,
                 after=serialize(row, at), reason=f"{network}: {state}" + (f" ({note})" if note else ""))
    return row


def _flush() -> None:
    try:
        db().flush()
    except StaleDataError:
        raise conflict("the code was changed by someone else at the same moment; show it again and retry") from None


def history_statement(number: int):
    return audit.query(resource_type=RESOURCE, resource_id=rules.canonical(number))

