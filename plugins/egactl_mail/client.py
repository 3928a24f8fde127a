"""Every path of /api/v1/mail and the calls the commands make on it, in one place.

A mailbox reference (address or employee number), a list's and an alias's
address are one path segment each, quoted here (``@`` kept readable); no
command builds a path of its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

BASE = "/api/v1/mail"
DOMAINS = f"{BASE}/domains"
MAILBOXES = f"{BASE}/mailboxes"
BULK = f"{MAILBOXES}/bulk"
"""The import's endpoint (the bulk wire contract: ``items`` in, per-line ``results`` out)."""
LISTS = f"{BASE}/lists"
RECONCILE = f"{BASE}/reconcile"
INSTITUTIONS = "/api/v1/institutions"
"""The core's directory (for completing an institution code where the option is not -i)."""


def _segment(value: str) -> str:
    return quote(value, safe="@")


def mailbox_path(ref: str) -> str:
    """A mailbox by address or employee number (both are single path segments)."""
    return f"{MAILBOXES}/{_segment(ref.strip())}"


def list_path(address: str) -> str:
    return f"{LISTS}/{_segment(address.strip().lower())}"


def domain_path(domain: str) -> str:
    return f"{DOMAINS}/{_segment(domain.strip().lower())}"


def alias_path(address: str) -> str:
    return f"{BASE}/aliases/{_segment(address.strip().lower())}"


# -- mailboxes -------------------------------------------------------------------------------


def create_mailbox(api: Any, body: dict[str, Any], *, dry_run: bool = False) -> tuple[dict[str, Any], bool]:
    """(a new mailbox, True); (the employee's mailbox exactly as asked, False): nothing changed.
    With ``dry_run``, the address it would get (nothing stored)."""
    from egactl.plugin.cli import new_idempotency_key

    response = api.request("POST", f"{MAILBOXES}?dry_run=true" if dry_run else MAILBOXES, json_body=body,
                           idempotency_key=new_idempotency_key())
    return response.json(), response.status_code == 201 or (dry_run and response.status_code == 200
                                                             and response.json().get("status") == "would be created")


def list_mailboxes(api: Any, *, limit: int | None, **filters: Any) -> list[dict[str, Any]]:
    return api.list(MAILBOXES, limit=limit, **filters)


def get_mailbox(api: Any, ref: str) -> dict[str, Any]:
    return api.get(mailbox_path(ref))


def get_mailbox_with_etag(api: Any, ref: str) -> tuple[dict[str, Any], str | None]:
    return api.get_with_etag(mailbox_path(ref))


def update_mailbox(api: Any, ref: str, changes: dict[str, Any]) -> dict[str, Any]:
    return api.update(mailbox_path(ref), changes)


def transition(api: Any, ref: str, action: str, reason: str | None, etag: str | None = None) -> dict[str, Any]:
    """A lifecycle step of the mailbox as we read it (``etag``: 412 if it changed meanwhile)."""
    body = {"reason": reason} if reason else {}
    return api.post(f"{mailbox_path(ref)}/{_segment(action)}", body, etag=etag)


def reset_password(api: Any, ref: str, etag: str | None = None) -> dict[str, Any]:
    # Deliberately without an Idempotency-Key: the server must not store an
    # answer holding a password (it refuses the header on this route).
    return api.request("POST", f"{mailbox_path(ref)}/reset-password", json_body={}, if_match=etag).json()


def check_import(api: Any, institutions: list[str]) -> None:
    """The import's preflight: the caller may create mailboxes in each institution, and each has a domain."""
    api.request("POST", BULK, json_body={"items": [], "institutions": institutions})


# -- aliases ---------------------------------------------------------------------------------


def list_aliases(api: Any, ref: str, *, limit: int | None) -> list[dict[str, Any]]:
    return api.list(f"{mailbox_path(ref)}/aliases", limit=limit)


def add_alias(api: Any, ref: str, alias: str) -> tuple[dict[str, Any], bool]:
    """(the alias, whether it was created); not created: the mailbox had it already."""
    from egactl.plugin.cli import new_idempotency_key

    response = api.request("POST", f"{mailbox_path(ref)}/aliases", json_body={"address": alias},
                           idempotency_key=new_idempotency_key())
    return response.json(), response.status_code == 201


def remove_alias(api: Any, alias: str, etag: str | None) -> dict[str, Any]:
    """Only if its mailbox is still as read (``etag``; else 412)."""
    return api.delete(alias_path(alias), etag=etag)


# -- domains ---------------------------------------------------------------------------------


def list_domains(api: Any, *, limit: int | None, institution: str | None) -> list[dict[str, Any]]:
    return api.list(DOMAINS, limit=limit, institution=institution)


def add_domain(api: Any, body: dict[str, Any], *, dry_run: bool = False) -> tuple[dict[str, Any], bool]:
    """(the domain, whether it was created); not created: it was there exactly as asked (200)."""
    from egactl.plugin.cli import new_idempotency_key

    response = api.request("POST", DOMAINS, json_body=body, idempotency_key=new_idempotency_key(), dry_run=dry_run)
    return response.json(), response.status_code == 201


def get_domain_with_etag(api: Any, domain: str) -> tuple[dict[str, Any], str | None]:
    return api.get_with_etag(domain_path(domain))


def update_domain(api: Any, domain: str, changes: dict[str, Any], etag: str | None, *,
                  dry_run: bool = False) -> dict[str, Any]:
    """Only if the domain is still as read (``etag``; else 412); ``dry_run``: judged in full, nothing kept."""
    return api.patch(domain_path(domain), changes, etag=etag, dry_run=dry_run)


def delete_domain(api: Any, domain: str, etag: str | None, *, dry_run: bool = False) -> dict[str, Any]:
    """409 while anything has an address in it; ``dry_run``: judged in full, nothing kept."""
    return api.delete(domain_path(domain), etag=etag, dry_run=dry_run)


# -- distribution lists ----------------------------------------------------------------------


def list_lists(api: Any, *, limit: int | None, institution: str | None) -> list[dict[str, Any]]:
    return api.list(LISTS, limit=limit, institution=institution)


def create_list(api: Any, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the list, whether it was created); not created: it was there exactly as asked."""
    from egactl.plugin.cli import new_idempotency_key

    response = api.request("POST", LISTS, json_body=body, idempotency_key=new_idempotency_key())
    return response.json(), response.status_code == 201


def get_list(api: Any, address: str) -> dict[str, Any]:
    return api.get(list_path(address))


def get_list_with_etag(api: Any, address: str) -> tuple[dict[str, Any], str | None]:
    return api.get_with_etag(list_path(address))


def delete_list(api: Any, address: str, etag: str | None, *, dry_run: bool = False) -> dict[str, Any]:
    """Only the list as read (``etag``; else 412); ``dry_run``: judged in full, nothing kept."""
    return api.delete(list_path(address), etag=etag, dry_run=dry_run)


def add_members(api: Any, address: str, members: list[str]) -> dict[str, Any]:
    return api.post(f"{list_path(address)}/members", {"members": members})


def remove_members(api: Any, address: str, members: list[str], etag: str | None) -> dict[str, Any]:
    """Only from the list as read (``etag``; else 412)."""
    # One ``member`` parameter per member, in the path's own query (the client keeps it as written).
    query = urlencode([("member", m) for m in members])
    return api.request("DELETE", f"{list_path(address)}/members?{query}", if_match=etag).json()


# -- reconcile -------------------------------------------------------------------------------


def reconcile(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    return api.post(RECONCILE, body)
