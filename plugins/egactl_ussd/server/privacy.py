"""The ussd plugin's part of a data subject's request: nothing to report or erase.

The registry holds codes, the services behind them and their provisioning: no
phone number, employee number or text about a person. Its one personal column,
a quota's ``set_by``, names the staff account that granted it (kept for
accountability, as the audit log's actor is). The simulator stores nothing.
"""

from __future__ import annotations

from typing import Any

from egactl.plugin import Privacy


def report(subject: Any) -> list[dict[str, Any]]:
    """Nothing in the registry is about a phone number or an employee number."""
    return []


def erase(subject: Any) -> dict[str, int]:
    """Nothing to remove (see :func:`report`)."""
    return {}


PRIVACY = Privacy(report=report, erase=erase)
