"""Writing the audit log (every mutation, in the mutation's own transaction), and
masking its personal data for the roles that must not see it.

Masking happens here, on the read path every audit view goes through
(``/api/v1/audit`` and each plugin's history built on it), driven by the
plugins' ``PersonalData`` declarations; a Tanzanian phone number in an id or a
reason is masked even where nobody declared it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import re
from typing import Any

from egactl.plugin import PersonalData
from egactl.server import scope
from egactl.server.models import AuditEntry
from egactl.server.security import mask_name, mask_phones


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def record(action: str, resource_type: str, resource_id: Any, *, institution: str | None = None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           reason: str | None = None) -> None:
    """Add an audit entry to the current transaction.

    Never pass secrets (passwords, tokens, API keys) in ``before``/``after``.
    """
    s = scope.current()
    p = s.principal
    s.session.add(AuditEntry(
        at=s.backend.now(), actor=p.subject if p else "system", role=p.role if p else "system",
        action=action, resource_type=resource_type, resource_id=str(resource_id), institution=institution,
        request_id=s.request_id, reason=reason, before=jsonable(before), after=jsonable(after),
    ))


# -- masking for the help desk ------------------------------------------------------------

HIDDEN = "(hidden)"


def _mask_phone(value: str) -> str:
    masked = mask_phones(value)
    return masked if masked != value else _mask_last3(value)


def _mask_last3(value: str) -> str:
    return "*" * max(3, len(value) - 3) + value[-3:] if len(value) > 3 else "***"


def _mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if at else _mask_last3(value)


MASKERS = {"phone": _mask_phone, "employee_number": _mask_last3, "name": lambda v: mask_name(v) or v,
           "email": _mask_email, "text": lambda v: HIDDEN}


@functools.lru_cache(maxsize=256)
def _pattern(id_pattern: str) -> re.Pattern[str]:
    return re.compile(id_pattern)


def mask_resource_id(resource_id: str, declaration: PersonalData | None) -> str:
    if declaration is not None and declaration.id_pattern:
        match = _pattern(declaration.id_pattern).fullmatch(resource_id)
        if match is None:
            return HIDDEN
        out, last = [], 0
        for name, value in match.groupdict().items():
            start, end = match.span(name)
            if value is None or name not in MASKERS or start < last:
                continue
            out += [resource_id[last:start], MASKERS[name](value)]
            last = end
        resource_id = "".join(out) + resource_id[last:]
    return mask_phones(resource_id)


def declarations() -> dict[str, PersonalData]:
    """Every mounted plugin's personal-data declarations, by audit resource type."""
    be = scope.current().backend
    return {d.resource_type: d for part in be.parts.values() for d in part.personal}


def mask_entry(entry: dict[str, Any], declared: dict[str, PersonalData]) -> dict[str, Any]:
    """An audit entry as the help desk may see it: who did what and when, personal data masked.

    before/after are withheld whole (they are records full of personal fields);
    the id keeps what a look-up needs (``RITA/+255754***222``).
    """
    declaration = declared.get(entry["resource_type"])
    reason = entry.get("reason")
    if reason is not None:
        reason = HIDDEN if declaration is not None and declaration.reason else mask_phones(reason)
    return {**entry, "resource_id": mask_resource_id(entry["resource_id"], declaration), "reason": reason,
            "before": None, "after": None}
