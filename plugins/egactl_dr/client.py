"""The dr plugin's API calls and the one way commands name a system.

A system is ``INSTITUTION/NAME`` (``RITA/crvs``); a bare ``crvs`` takes
``--institution`` or the profile's default institution.
"""

from __future__ import annotations

from typing import Any

from egactl.plugin.cli import InvalidInput
from egactl_dr import validation

BASE = "/api/v1/dr"


def system_ref(ctx: Any, ref: str, institution_flag: str | None) -> tuple[str, str]:
    default = ctx.institution(institution_flag, required=False)
    try:
        return validation.split_system_ref(ref, default)
    except validation.RuleError as exc:
        raise InvalidInput(str(exc)) from None


def system_path(institution: str, name: str) -> str:
    return f"{BASE}/systems/{institution}/{name}"


def list_systems(api: Any, *, limit: int | None = None, **filters: Any) -> list[dict]:
    return api.list(f"{BASE}/systems", limit=limit, **filters)


def get_system(api: Any, institution: str, name: str) -> dict:
    return api.get(system_path(institution, name))


def get_system_with_etag(api: Any, institution: str, name: str) -> tuple[dict, str | None]:
    return api.get_with_etag(system_path(institution, name))


def record_run(api: Any, body: dict) -> dict:
    return api.post(f"{BASE}/checks", body)


def running_drill(api: Any, institution: str, name: str) -> dict | None:
    items = api.list(f"{BASE}/drills", limit=1, institution=institution, name=name, result="running")
    return items[0] if items else None
