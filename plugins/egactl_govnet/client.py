"""GovNet's API paths, and finding the request a command acts on.

A command names a site (``RITA/dodoma-hq``, or ``dodoma-hq`` with the
profile's institution) or a request by its number; either way the step is
sent with the request's ETag, so two people acting on the same site cannot
both succeed on a stale view.
"""

from __future__ import annotations

from typing import Any

from egactl.plugin.cli import InvalidInput, NotFound
from egactl_govnet import validation

BASE = "/api/v1/govnet"


def site_ref(value: str, institution: str | None) -> tuple[str, str]:
    try:
        return validation.parse_site_ref(value, institution)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def site_path(institution: str, name: str) -> str:
    return f"{BASE}/sites/{institution}/{name}"


def get_site(api: Any, ref: str, institution: str | None) -> dict[str, Any]:
    inst, name = site_ref(ref, institution)
    return api.get(site_path(inst, name))


def find_onboarding(api: Any, ref: str, institution: str | None) -> tuple[dict[str, Any], str | None]:
    """(the request, its ETag) for ``SITE`` or a request number."""
    if ref.strip().lstrip("#").isdigit():
        return api.get_with_etag(f"{BASE}/onboardings/{ref.strip().lstrip('#')}")
    site = get_site(api, ref, institution)
    if site.get("onboarding") is None:
        raise NotFound(f"site {site['site']} has no onboarding request",
                       hint=f"open one with `egactl govnet onboard --site {site['site']} --bandwidth RATE`")
    return api.get_with_etag(f"{BASE}/onboardings/{site['onboarding']['id']}")


def step(api: Any, onboarding: dict[str, Any], etag: str | None, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """One workflow step, as the request looked when we read it (If-Match)."""
    from egactl.plugin.cli import new_idempotency_key

    body = {k: v for k, v in body.items() if v is not None}
    response = api.request("POST", f"{BASE}/onboardings/{onboarding['id']}/{action}", json_body=body,
                           idempotency_key=new_idempotency_key(), if_match=etag)
    return response.json()
