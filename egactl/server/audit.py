"""Writing the audit log: every mutation, in the mutation's own transaction."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

from egactl.server import scope
from egactl.server.models import AuditEntry


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
