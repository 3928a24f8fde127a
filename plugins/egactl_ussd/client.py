"""The ussd plugin's API calls: one function per thing the registry can do,
so the commands read as what they mean and every path lives here, each
segment a caller typed quoted (no command builds a URL)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from egactl_ussd.rules import two_digits

BASE = "/api/v1/ussd"


def _segment(value: str) -> str:
    """One path segment: ``/``, ``?``, ``#`` and the like cannot change which resource is asked for."""
    return quote(value, safe="")


def code_path(number: int) -> str:
    return f"{BASE}/codes/{two_digits(number)}"


def show_institution(api, code: str) -> dict[str, Any]:
    """The core's record of an institution (404, exit 3, if there is none)."""
    return api.get(f"/api/v1/institutions/{_segment(code)}")


def list_codes(api, *, state: str | None = None, institution: str | None = None, not_live: bool = False,
               limit: int | None = None) -> list[dict[str, Any]]:
    return api.list(f"{BASE}/codes", limit=limit, state=state, institution=institution,
                    not_live="true" if not_live else None)


def summary(api) -> dict[str, Any]:
    return api.get(f"{BASE}/summary")


def show(api, number: int) -> dict[str, Any]:
    return api.get(code_path(number))


def history(api, number: int, *, limit: int | None = None, oldest_first: bool = False) -> list[dict[str, Any]]:
    """The code's changes, newest first (``oldest_first``: from the first)."""
    return api.list(f"{code_path(number)}/history", limit=limit, oldest_first="true" if oldest_first else None)


def reserve(api, *, institution: str, application_reference: str, number: int | None) -> dict[str, Any]:
    body = {"institution": institution, "application_reference": application_reference,
            "code": two_digits(number) if number is not None else None}
    return api.post(f"{BASE}/reservations", body)


def assign(api, *, institution: str, service_name: str, purpose: str, callback_url: str,
           number: int | None) -> dict[str, Any]:
    body = {"institution": institution, "service_name": service_name, "purpose": purpose,
            "callback_url": callback_url, "code": two_digits(number) if number is not None else None}
    return api.post(f"{BASE}/assignments", body)


def act(api, number: int, action: str, reason: str) -> dict[str, Any]:
    """suspend, resume or release."""
    return api.post(f"{code_path(number)}/{action}", {"reason": reason})


def update(api, number: int, changes: dict[str, Any]) -> dict[str, Any]:
    return api.update(code_path(number), changes)


def set_network(api, number: int, network: str, state: str, note: str | None) -> dict[str, Any]:
    body = {"state": state, "note": note}
    return api.request("PUT", f"{code_path(number)}/networks/{_segment(network.lower())}", json_body=body).json()


def quota(api, institution: str) -> dict[str, Any]:
    return api.get(f"{BASE}/quotas/{_segment(institution)}")


def quotas(api, *, limit: int | None = None) -> list[dict[str, Any]]:
    return api.list(f"{BASE}/quotas", limit=limit)


def set_quota(api, institution: str, limit: int | None, reason: str) -> dict[str, Any]:
    """``limit`` None puts the institution back on the default quota."""
    return api.request("PUT", f"{BASE}/quotas/{_segment(institution)}", json_body={"quota": limit, "reason": reason}).json()
