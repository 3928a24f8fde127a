"""GovNet's API: every path the commands call, each segment quoted, and finding
the request a command acts on.

A command names a site (``RITA/dodoma-hq``, or ``dodoma-hq`` with the
profile's institution) or a request by its number; either way the step is
sent with the request's ETag, so two people acting on the same site cannot
both succeed on a stale view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from egactl.plugin.cli import NotFound, enforce
from egactl_govnet import rules

BASE = "/api/v1/govnet"
IMPORT = f"{BASE}/import"
"""Where ``egactl govnet import`` sends its chunks (the bulk wire contract)."""
POOLS = f"{BASE}/pools"
SITES = f"{BASE}/sites"


def _seg(value: Any) -> str:
    return quote(str(value), safe="")


# -- pools ------------------------------------------------------------------------------


def list_pools(api: Any, *, limit: int | None, region: str | None = None) -> list[dict[str, Any]]:
    return api.list(POOLS, limit=limit, region=region)


def get_pool(api: Any, name: str) -> dict[str, Any]:
    return api.get(f"{BASE}/pools/{_seg(name)}")


def _create(api: Any, path: str, body: dict[str, Any], dry_run: bool) -> tuple[dict[str, Any], bool]:
    """(the object, whether this request created it): 200 is the backend's "exists, exactly as asked"."""
    from egactl.plugin.cli import new_idempotency_key

    response = api.request("POST", path, json_body=body, idempotency_key=new_idempotency_key(), dry_run=dry_run)
    return response.json(), response.status_code == 201


def create_pool(api: Any, body: dict[str, Any], *, dry_run: bool = False) -> tuple[dict[str, Any], bool]:
    return _create(api, f"{BASE}/pools", body, dry_run)


def get_pool_with_etag(api: Any, name: str) -> tuple[dict[str, Any], str | None]:
    return api.get_with_etag(f"{BASE}/pools/{_seg(name)}")


def update_pool(api: Any, name: str, changes: dict[str, Any], *, etag: str | None, dry_run: bool = False) -> dict[str, Any]:
    """The pool as we read it (If-Match: a change meanwhile is a 412, exit 5); a dry run is judged by the backend."""
    return api.patch(f"{BASE}/pools/{_seg(name)}", changes, etag=etag, dry_run=dry_run)


def delete_pool(api: Any, name: str, *, etag: str | None, dry_run: bool = False) -> dict[str, Any]:
    return api.delete(f"{BASE}/pools/{_seg(name)}", etag=etag, dry_run=dry_run)


# -- sites ------------------------------------------------------------------------------


def site_ref(value: str, institution: str | None) -> tuple[str, str]:
    """``(INSTITUTION, NAME)`` of a site as a command names it (exit 2 if it can't be one)."""
    return enforce(rules.parse_site_ref, value, institution)


def site_path(institution: str, name: str) -> str:
    return f"{BASE}/sites/{_seg(institution)}/{_seg(name)}"


def list_sites(api: Any, *, limit: int | None, **filters: Any) -> list[dict[str, Any]]:
    return api.list(SITES, limit=limit, **filters)


def show_site(api: Any, institution: str, name: str) -> dict[str, Any]:
    return api.get(site_path(institution, name))


def get_site(api: Any, ref: str, institution: str | None) -> dict[str, Any]:
    return show_site(api, *site_ref(ref, institution))


def create_site(api: Any, body: dict[str, Any], *, dry_run: bool = False) -> tuple[dict[str, Any], bool]:
    return _create(api, f"{BASE}/sites", body, dry_run)


def get_site_with_etag(api: Any, institution: str, name: str) -> tuple[dict[str, Any], str | None]:
    return api.get_with_etag(site_path(institution, name))


def update_site(api: Any, institution: str, name: str, changes: dict[str, Any], *, etag: str | None,
                dry_run: bool = False) -> dict[str, Any]:
    """The site as we read it (If-Match: a change meanwhile is a 412, exit 5); a dry run is judged by the backend."""
    return api.patch(site_path(institution, name), changes, etag=etag, dry_run=dry_run)


def delete_site(api: Any, institution: str, name: str, *, etag: str | None, dry_run: bool = False) -> dict[str, Any]:
    return api.delete(site_path(institution, name), etag=etag, dry_run=dry_run)


def site_history(api: Any, institution: str, name: str, *, limit: int | None,
                 oldest_first: bool = False) -> list[dict[str, Any]]:
    return api.list(f"{site_path(institution, name)}/history", limit=limit,
                    oldest_first="true" if oldest_first else None)


# -- onboarding requests ------------------------------------------------------------------


def open_onboarding(api: Any, body: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    return api.post(f"{BASE}/onboardings", body, dry_run=dry_run)


def _onboarding_path(onboarding_id: Any) -> str:
    return f"{BASE}/onboardings/{_seg(onboarding_id)}"


def find_onboarding(api: Any, ref: str, institution: str | None) -> tuple[dict[str, Any], str | None]:
    """(the request, its ETag) for ``SITE`` or a request number."""
    if ref.strip().lstrip("#").isdigit():
        return api.get_with_etag(_onboarding_path(ref.strip().lstrip("#")))
    site = get_site(api, ref, institution)
    if site.get("onboarding") is None:
        raise NotFound(f"site {site['site']} has no onboarding request",
                       hint=f"open one with `egactl govnet onboard --site {site['site']} --bandwidth RATE`")
    return api.get_with_etag(_onboarding_path(site["onboarding"]["id"]))


def step(api: Any, onboarding: dict[str, Any], etag: str | None, action: str, body: dict[str, Any], *,
         dry_run: bool = False) -> dict[str, Any]:
    """One workflow step, as the request looked when we read it (If-Match); a dry run is the
    backend's whole step (allocation and link test included), rolled back."""
    from egactl.plugin.cli import new_idempotency_key

    body = {k: v for k, v in body.items() if v is not None}
    response = api.request("POST", f"{_onboarding_path(onboarding['id'])}/{_seg(action)}", json_body=body,
                           idempotency_key=new_idempotency_key(), if_match=etag, dry_run=dry_run)
    return response.json()


def status(api: Any, *, institution: str | None, waiting_days: int, limit: int | None) -> dict[str, Any]:
    return api.get(f"{BASE}/status", institution=institution, waiting_days=waiting_days, limit=limit)
