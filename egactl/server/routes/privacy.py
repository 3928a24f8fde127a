"""/api/v1/privacy: a data subject's report and erasure, and the retention policy (``egactl privacy``).

Every plugin answers for its own data through its ``Privacy`` hooks
(``egactl.plugin.Privacy``); the core answers for the audit log, and audits
each report and erasure itself without copying the personal value into the
log: the entry names the subject by its pseudonym and the case reference.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import String, cast, or_, select, update

from egactl.plugin.rules import RuleError
from egactl.server import audit
from egactl.server.db import alone
from egactl.server.models import AuditEntry
from egactl.server.privacy import Subject, collected_also_named, collecting_also_named, subject_of
from egactl.server.problems import Problem
from egactl.server.scope import ApiRoute, backend, db, principal, secret_response

router = APIRouter(route_class=ApiRoute, tags=["privacy"])

RESOURCE = "privacy-subject"
AUDIT_SERVICE = "audit"


class SubjectRequest(BaseModel):
    subject: str = Field(..., min_length=1, max_length=40, description="A phone number or an employee number.")
    case: str = Field(..., min_length=1, max_length=80, description="The reference of the request (a case number).")

    @field_validator("case")
    @classmethod
    def _printable(cls, value: str) -> str:
        value = value.strip()
        if not value or not value.isprintable():
            raise ValueError("must be printable text")
        return value


class HeldOut(BaseModel):
    service: str
    kind: str
    reference: str
    institution: str | None = None
    data: dict[str, Any]


class ReportOut(BaseModel):
    subject: str
    case: str
    items: list[HeldOut]
    counts: dict[str, int]
    """Items per service."""


class ErasureOut(BaseModel):
    subject: str
    """The pseudonym left in the subject's place."""
    case: str
    erased: dict[str, dict[str, int]]
    """Per service: what was removed or pseudonymised, and how many."""


class RetentionOut(BaseModel):
    service: str
    name: str
    what: str
    days: int
    after: str
    due: int
    """Rows the next run would pseudonymise; with ``due_at_least``, more than that."""
    due_at_least: bool = False
    """The count stopped at ``due`` (10,000): more rows than that are due."""


def _subject(text: str) -> Subject:
    try:
        return subject_of(text)
    except RuleError as exc:
        raise Problem(422, str(exc), errors=[{"field": "subject", "message": str(exc)}]) from None


def _forms(subject: Subject, also: list[str] = ()) -> list[str]:
    """The ways the subject's value is written in free text and ids: +255754…, 255754…, 0754…."""
    if subject.phone and subject.phone.startswith("+255"):
        national = subject.phone[4:]
        return [subject.phone, subject.phone[1:], "0" + national, *also]
    return [subject.value, *also]


def _audit_naming(subject: Subject, also: list[str] = ()):
    forms = _forms(subject, also)
    conditions = []
    for form in forms:
        conditions += [AuditEntry.resource_id.contains(form, autoescape=True),
                       AuditEntry.reason.contains(form, autoescape=True),
                       cast(AuditEntry.before, String).contains(form, autoescape=True),
                       cast(AuditEntry.after, String).contains(form, autoescape=True)]
    stmt = select(AuditEntry).where(or_(*conditions)).where(AuditEntry.resource_type != RESOURCE)
    visible = principal().visible_institutions()
    if visible is not None:
        stmt = stmt.where(AuditEntry.institution.in_(visible))
    return stmt


def _parts_with_privacy():
    return {name: part.privacy for name, part in backend().parts.items() if part.privacy is not None}


@router.post("/reports", response_model=ReportOut)
@secret_response("privacy report")  # personal data: a retry's answer is never kept in the idempotency store
def report(body: SubjectRequest):
    """Everything the services hold about a person that the caller may read; the request is audited."""
    p = principal()
    if p.role not in ("admin", "operator"):
        raise Problem(403, "only admins and operators may report on a data subject")
    subject = _subject(body.subject)
    items: list[dict[str, Any]] = []
    for name, privacy in sorted(_parts_with_privacy().items()):
        for held in privacy.report(subject) or []:
            items.append({"service": name, **held})
    for entry in db().scalars(_audit_naming(subject).order_by(AuditEntry.id)).all():
        items.append({"service": AUDIT_SERVICE, "kind": "audit entry", "reference": str(entry.id),
                      "institution": entry.institution,
                      "data": {"at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action,
                               "resource_type": entry.resource_type, "resource_id": entry.resource_id,
                               "reason": entry.reason, "before": entry.before, "after": entry.after}})
    counts: dict[str, int] = {}
    for item in items:
        counts[item["service"]] = counts.get(item["service"], 0) + 1
    audit.record("report", RESOURCE, subject.pseudonym, reason=f"case {body.case}", after={"items": counts})
    return {"subject": subject.text, "case": body.case, "items": items, "counts": counts}


@router.post("/erasures", response_model=ErasureOut)
def erase(body: SubjectRequest):
    """Remove or pseudonymise everything personal about a person, in every service, in one transaction (admins)."""
    if not principal().is_admin:
        raise Problem(403, "only admins may erase a data subject's data")
    # No write in progress beside it: a send to the number committed just after the erasure's
    # statements would keep the number and its text, and deliver it (egactl.server.db.alone).
    alone(db())
    subject = _subject(body.subject)
    erased: dict[str, dict[str, int]] = {}
    token = collecting_also_named()
    try:
        for name, privacy in sorted(_parts_with_privacy().items()):
            counts = {what: int(n) for what, n in (privacy.erase(subject) or {}).items() if n}
            if counts:
                erased[name] = counts
    finally:
        identifying, beside = collected_also_named(token)
    rewritten = _pseudonymise_audit(subject, identifying, beside)
    if rewritten:
        erased[AUDIT_SERVICE] = {"audit entries pseudonymised": rewritten}
    audit.record("erase", RESOURCE, subject.pseudonym, reason=f"case {body.case}", after={"erased": erased})
    return {"subject": subject.pseudonym, "case": body.case, "erased": erased}


def _pseudonymise_audit(subject: Subject, identifying: list[str], beside: list[str]) -> int:
    """Every audit entry naming the subject (by its number, or by what a plugin said identifies it:
    ``also_named``) keeps its facts and names the pseudonym instead, for those values and for the
    ones replaced only beside them (a name)."""
    session = db()
    forms = sorted(_forms(subject, identifying) + beside, key=len, reverse=True)

    def scrub(value: Any) -> Any:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        for form in forms:
            text = text.replace(form, subject.pseudonym)
        return json.loads(text) if not isinstance(value, str) else text

    touched = 0
    for entry in session.scalars(_audit_naming(subject, identifying)).all():
        session.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(
            resource_id=scrub(entry.resource_id), reason=scrub(entry.reason),
            before=scrub(entry.before), after=scrub(entry.after)))
        touched += 1
    return touched


@router.get("/retention", response_model=list[RetentionOut])
def retention():
    """The retention policy: each class of personal data, its period, and what the next run would touch."""
    from egactl.server.pagination import COUNT_UP_TO
    from egactl.server.retention import classes

    now = backend().now()
    out = []
    for service, r, days in classes(backend()):
        due = int(r.due(db(), now - dt.timedelta(days=days)))  # counted no further than COUNT_UP_TO + 1
        out.append({"service": service, "name": r.name, "what": r.what, "days": days, "after": r.after,
                    "due": min(due, COUNT_UP_TO), "due_at_least": due > COUNT_UP_TO})
    return out

