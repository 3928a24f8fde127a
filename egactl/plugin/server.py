"""The backend side of the plugin SDK: what a plugin's ``BackendPart`` uses.

Imported only when the reference backend starts (sandbox or ``egactl serve``).

Every route of a plugin is declared with ``APIRouter(route_class=ApiRoute)``:
:class:`ApiRoute` is the frame every request runs in (authentication,
transaction, idempotency, If-Match, problem+json, the help desk's read-only
role). Inside a route:

- ``db()`` (the request's session), ``principal()`` (the caller: role,
  institutions, ``check_read``/``check_write``), ``backend()`` (settings,
  ``now()``), ``current_scope()`` (all of it, plus the request id and ``dry_run``:
  a request sent with ``X-Dry-Run: true`` runs in full and is rolled back by the
  frame; only a route acting outside the database needs to look at it);
- ``require_institution(code)`` / ``get_institution(code)``: the institution
  (404 if unknown; ``require_`` also needs write access), locked against its
  deletion for the rest of a writing request;
- ``visible(statement, institution_column, institution=None)``: the one
  scoping helper, so every plugin gives the same answer for another
  institution's data;
- ``audit.record(...)``: the audit entry of a change, in requests and in
  workers (pass the worker's ``session`` and ``at``);
- ``page(...)`` and ``pagination``: keyset cursor pages in any order (by a
  column, then the id), newest first unless ``oldest_first=True``;
- ``insert_unique(row, conflict)``: add a row, a unique clash is a 409;
- ``bulk_request(Item, name=...)`` / ``bulk_response(statuses, name=...)``: the bulk
  wire contract every import speaks (``bulk.run`` on the command side): a chunk of
  ``items``, each with its CSV ``line``, in; one ``results`` entry per row
  (``line``, ``status``, ``id``, ``error``) out;
- ``etag``: ETags and optimistic locking (``etag.guard(row, what)`` before a
  change, ``etag.respond(data, version)``);
- ``iso(moment)``: a timestamp as the API writes it (ISO 8601, UTC offset) or None;
- ``@own_authentication`` on an endpoint that speaks another system's protocol and
  authenticates its callers itself (e.g. an OAuth token of that system): the frame
  reads no egactl token for it (``principal()`` is ``ANONYMOUS``, who may read and
  change nothing) and applies neither the help desk's rule nor Idempotency-Key
  replay; the route calls ``act_as(subject, role=..., institutions=(...))`` once it
  knows its caller, so that audit entries name it;
- ``@secret_response(noun)`` on a create whose answer holds a secret shown once: its
  Idempotency-Key record keeps no copy;
- ``rule_validator(rule, *fields)``: a pydantic validator from a rule of
  ``egactl.plugin.rules`` (its message becomes the field's 422); a
  lifecycle's ``IllegalTransition`` raised in a route is answered 409;
- ``owners_named(token, owner, words)`` / ``starts(column, word)``: the one name matching
  as an index query on a plugin's token table (one row per word of a name);
- ``Term`` / ``Found``: the ``find`` hook of a ``BackendPart`` (``egactl find``) reads a
  ``Term`` and answers ``Found`` results;
- ``Subject``, ``pseudonym(value)``, ``is_pseudonym(value)``, ``also_named(*values)``: a plugin's ``Privacy`` hooks
  (``egactl privacy``) read a ``Subject``; a personal value past its time, or erased,
  becomes its ``pseudonym`` (a keyed hash: the same value, the same pseudonym);
- problems: ``Problem``, ``not_found``, ``conflict``, ``invalid``, ``forbidden``, and
  ``problem_response`` to document a status a route answers;
- models: ``Base``, ``Versioned`` (every table a caller can change),
  ``unversioned(reason)``, ``UTCDateTime``, ``lock(session, name)`` (a named
  lock until the transaction ends), and the core's ``Institution`` and
  ``AuditEntry`` for reading.
"""

from __future__ import annotations

from typing import Any

from egactl.server import audit as _audit
from egactl.server.bulk import bulk_request, bulk_response
from egactl.server import etag as _etag
from egactl.server import pagination as _pagination
from egactl.server.clock import system_clock
from egactl.server.find import Found, Term
from egactl.server.names import owners_named, starts
from egactl.server.privacy import Subject, also_named, is_pseudonym, pseudonym
from egactl.server.db import Base, UTCDateTime, Versioned, lock, unversioned
from egactl.server.models import AuditEntry, Institution
from egactl.server.problems import Problem, conflict, forbidden, invalid, not_found, problem_response
from egactl.server.routes import audit as _audit_routes
from egactl.server.routes.institutions import get_institution, require_institution
from egactl.server.scope import (ANONYMOUS, ApiRoute, act_as, backend, db, helpdesk_allowed, insert_unique,
                                 own_authentication, principal, same_or_conflict, secret_response)
from egactl.server.scope import current as current_scope
from egactl.server.security import Principal, mask_name, mask_phone

__all__ = [
    "ANONYMOUS", "ApiRoute", "AuditEntry", "Base", "Found", "Institution", "Principal", "Problem", "Subject", "Term",
    "UTCDateTime", "Versioned", "act_as", "also_named", "audit", "is_pseudonym", "own_authentication", "pseudonym",
    "owners_named", "secret_response", "starts",
    "backend", "conflict", "current_scope", "db", "etag", "forbidden", "get_institution", "helpdesk_allowed",
    "bulk_request", "bulk_response", "insert_unique", "invalid", "iso", "rule_validator", "lock", "mask_name", "mask_phone", "not_found", "page", "pagination", "principal",
    "problem_response", "require_institution", "same_or_conflict", "system_clock", "unversioned", "visible",
]

page = _pagination.page
"""``page(session, stmt, id_column, *, cursor, limit, serialize, order_by=None, oldest_first=False, counted=None)``:
``{"items": [...], "next_cursor": ...}``, keyset pages newest first by default (by ``order_by``, then id);
``serialize`` gets the object of a statement of one entity, or each row as a named tuple (by name or
position); ``counted``: a cheaper statement with exactly ``stmt``'s rows, for the first page's total.
A page of values is cheapest from the table's own columns (``Model.__table__.c``): no ORM at all."""


def iso(moment: Any) -> str | None:
    """A timestamp as every API response writes it (ISO 8601 with its UTC offset), None as None."""
    return moment.isoformat() if moment is not None else None


def rule_validator(rule: Any, *fields: str, allow_none: bool = True) -> Any:
    """A pydantic field validator applying ``rule`` to ``fields`` of a request body.

    ``rule`` follows the convention of ``egactl.plugin.rules``: a ``check_*``
    returning the problem or None, or a normalising rule raising ``RuleError``
    (its result replaces the value). A broken rule is the field's 422, with the
    rule's message unprefixed. ``None`` passes through unless ``allow_none=False``.
    """
    from pydantic import field_validator
    from pydantic_core import PydanticCustomError

    from egactl.plugin.rules import RuleError

    is_check = getattr(rule, "__name__", "").startswith("check_")

    def apply(value: Any) -> Any:
        if value is None and allow_none:
            return None
        try:
            result = rule(value)
        except RuleError as exc:
            raise PydanticCustomError("rule", str(exc)) from None
        if is_check:
            if result:
                raise PydanticCustomError("rule", str(result))
            return value
        return result

    return field_validator(*fields, check_fields=False)(apply)


def visible(statement: Any, institution_column: Any, institution: str | None = None) -> Any:
    """``statement`` limited to the rows of institutions the caller may read.

    Admins and the help desk see every institution; an operator only those of
    its token. ``institution`` (a ``--institution`` filter) narrows further,
    and asking for one the caller may not read is a 403 naming it, the same
    answer in every plugin.
    """
    p = principal()
    if institution:
        code = institution.upper()
        p.check_read(code)
        statement = statement.where(institution_column == code)
    codes = p.visible_institutions()
    if codes is not None:
        statement = statement.where(institution_column.in_(codes))
        if not institution and len(codes) > 1:
            # page() reads such a list one institution at a time (see _pagination.per_institution)
            statement = statement.execution_options(**{_pagination.PER_INSTITUTION: (institution_column, tuple(codes))})
    return statement


class audit:  # a namespace, used as ``audit.record(...)``
    """The audit log: every change is recorded in the change's own transaction."""

    @staticmethod
    def record(action: str, resource_type: str, resource_id: Any, *, institution: str | None = None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
               reason: str | None = None, session: Any = None, at: Any = None) -> None:
        """Add an audit entry to the current transaction. Never pass secrets in ``before``/``after``.

        In a request, leave ``session`` and ``at`` out: the entry names the
        caller and the request. In a worker (no request), pass the worker's
        ``session`` and the time ``at``: the entry's actor is ``system``.
        """
        if session is None:
            _audit.record(action, resource_type, resource_id, institution=institution, before=before,
                          after=after, reason=reason)
            return
        if at is None:
            raise TypeError("audit.record(session=...) outside a request needs at=")
        session.add(AuditEntry(at=at, actor="system", role="system", action=action, resource_type=resource_type,
                               resource_id=str(resource_id), institution=institution, request_id=None,
                               reason=reason, before=_audit.jsonable(before), after=_audit.jsonable(after)))

    @staticmethod
    def record_many(action: str, resource_type: str, entries: list[tuple[str, str | None, dict[str, Any] | None]]) -> None:
        """``record`` for many resources in one INSERT: ``entries`` are ``(resource_id, institution, after)``."""
        from sqlalchemy import insert

        s = current_scope()
        p = s.principal
        now = s.backend.now()
        s.session.execute(insert(AuditEntry), [
            {"at": now, "actor": p.subject if p else "system", "role": p.role if p else "system", "action": action,
             "resource_type": resource_type, "resource_id": str(rid), "institution": inst,
             "request_id": s.request_id, "reason": None, "before": None, "after": _audit.jsonable(after)}
            for rid, inst, after in entries])

    jsonable = staticmethod(_audit.jsonable)
    """A value as the audit log stores it (dates as ISO strings, enums as values)."""

    query = staticmethod(_audit_routes.query)
    """``query(resource_type=..., resource_id=..., ...)``: audit entries the caller may read (a ``select``)."""

    history_page = staticmethod(_audit_routes.history_page)
    """``history_page(stmt, cursor, limit)``: a page of ``query``'s entries, masked for the help desk."""

    serialize = staticmethod(_audit_routes.serialize)
    """``serialize(entry, with_data=True)``: one entry as the caller may see it."""

    AuditPage = _audit_routes.AuditPage
    """The response model of a history page."""


class etag:  # a namespace, used as ``etag.guard(...)``
    """ETags and optimistic locking on ``Versioned`` rows: a stale If-Match is a 412, no update is lost."""

    tag = staticmethod(_etag.tag)
    check = staticmethod(_etag.check)
    guard = staticmethod(_etag.guard)
    lock = staticmethod(_etag.lock)
    touch = staticmethod(_etag.touch)
    observe = staticmethod(_etag.observe)
    respond = staticmethod(_etag.respond)


class pagination:  # a namespace
    """Cursor pagination: ``page`` and, for a route that pages by hand, the cursor codec and limits;
    ``count_up_to(session, stmt)``: a statement's rows counted no further than ``COUNT_UP_TO`` and
    one more (a ``Retention.due`` counts this way, as a first page's total does)."""

    page = staticmethod(_pagination.page)
    count_up_to = staticmethod(_pagination.count_up_to)
    COUNT_UP_TO = _pagination.COUNT_UP_TO
    encode = staticmethod(_pagination.encode)
    decode = staticmethod(_pagination.decode)
    DEFAULT_LIMIT = _pagination.DEFAULT_LIMIT
    MAX_LIMIT = _pagination.MAX_LIMIT
