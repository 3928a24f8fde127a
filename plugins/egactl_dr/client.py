"""The dr plugin's API calls: one function per thing the API does, so every
path lives here (each segment quoted) and the commands read as what they mean."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

BASE = "/api/v1/dr"


def system_path(institution: str, name: str) -> str:
    return f"{BASE}/systems/{quote(institution, safe='')}/{quote(name, safe='')}"


# -- systems -------------------------------------------------------------------------


def list_systems(api: Any, *, limit: int | None = None, **filters: Any) -> list[dict]:
    return api.list(f"{BASE}/systems", limit=limit, **filters)


def get_system(api: Any, institution: str, name: str) -> dict:
    return api.get(system_path(institution, name))


def get_system_with_etag(api: Any, institution: str, name: str) -> tuple[dict, str | None]:
    return api.get_with_etag(system_path(institution, name))


def create_system(api: Any, body: dict) -> tuple[dict, bool]:
    """(the system, whether this call created it): a system already there as asked is
    answered 200 ("exists") and changed in nothing; one with other values is a Conflict (exit 5)."""
    from egactl.plugin.cli import new_idempotency_key

    response = api.request("POST", f"{BASE}/systems", json_body=body, idempotency_key=new_idempotency_key())
    return response.json(), response.status_code == 201


def update_system(api: Any, institution: str, name: str, changes: dict, *, etag: str | None) -> dict:
    return api.patch(system_path(institution, name), changes, etag=etag)


def remove_system(api: Any, institution: str, name: str, *, etag: str | None) -> None:
    api.delete(system_path(institution, name), etag=etag)


def approved_hosting(api: Any) -> list[str]:
    return api.get(f"{BASE}/hosting")["approved"]


# -- drills --------------------------------------------------------------------------


def start_drill(api: Any, institution: str, name: str, body: dict) -> dict:
    return api.post(f"{system_path(institution, name)}/drills", body)


def finish_drill(api: Any, institution: str, name: str, body: dict) -> dict:
    return api.post(f"{system_path(institution, name)}/drills/finish", body)


def list_drills(api: Any, *, limit: int | None = None, oldest_first: bool = False, **filters: Any) -> list[dict]:
    return api.list(f"{BASE}/drills", limit=limit, oldest_first="true" if oldest_first else None, **filters)


def running_drill(api: Any, institution: str, name: str) -> dict | None:
    items = list_drills(api, limit=1, institution=institution, name=name, result="running")
    return items[0] if items else None


# -- checks and the report ---------------------------------------------------------------


def record_run(api: Any, body: dict) -> dict:
    return api.post(f"{BASE}/checks", body)


def check_history(api: Any, institution: str, name: str, *, limit: int | None = None,
                  since: str | None = None, oldest_first: bool = False) -> list[dict]:
    return api.list(f"{system_path(institution, name)}/checks", limit=limit, since=since,
                    oldest_first="true" if oldest_first else None)


def report(api: Any, *, institution: str | None = None) -> list[dict]:
    return api.list(f"{BASE}/report", institution=institution)
