"""Every sms API path, in one place, for the commands: no command builds a URL.

Path segments taken from users (institution codes, group names, sender IDs,
numbers) are quoted here."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

BASE = "/api/v1/sms"


def _q(value: str) -> str:
    return quote(value, safe="")


def group_path(institution: str, name: str) -> str:
    return f"{BASE}/groups/{_q(institution)}/{_q(name)}"


def sender_path(name: str) -> str:
    return f"{BASE}/senders/{_q(name)}"


def optout_path(institution: str, phone: str) -> str:
    return f"{BASE}/optouts/{_q(institution)}/{_q(phone)}"


# -- senders ------------------------------------------------------------------------------


def senders(api: Any, *, limit: int | None, **filters: Any) -> list[dict]:
    return api.list(f"{BASE}/senders", limit=limit, **filters)


def request_sender(api: Any, body: dict) -> dict:
    return api.post(f"{BASE}/senders", body)


def sender_with_etag(api: Any, name: str) -> tuple[dict, str | None]:
    return api.get_with_etag(sender_path(name))


def decide_sender(api: Any, name: str, decision: str, note: str | None, *, etag: str | None) -> dict:
    """``decision``: approve or reject; ``etag``: the request as read (412 if decided meanwhile)."""
    return api.post(f"{sender_path(name)}/{decision}", {"note": note}, etag=etag)


def withdraw_sender(api: Any, name: str, reason: str | None, *, etag: str | None, dry_run: bool = False) -> dict:
    """The institution takes back its sender ID; ``dry_run``: the backend judges it and stores nothing."""
    return api.post(f"{sender_path(name)}/withdraw", {"reason": reason}, etag=etag, dry_run=dry_run)


# -- groups -------------------------------------------------------------------------------


def groups(api: Any, *, limit: int | None, **filters: Any) -> list[dict]:
    return api.list(f"{BASE}/groups", limit=limit, **filters)


def create_group(api: Any, body: dict) -> dict:
    return api.post(f"{BASE}/groups", body)


def group(api: Any, institution: str, name: str) -> dict:
    return api.get(group_path(institution, name))


def group_with_etag(api: Any, institution: str, name: str) -> tuple[dict, str | None]:
    return api.get_with_etag(group_path(institution, name))


def delete_group(api: Any, institution: str, name: str, *, etag: str | None) -> None:
    api.delete(group_path(institution, name), etag=etag)


def members(api: Any, institution: str, name: str, *, limit: int | None) -> list[dict]:
    return api.list(f"{group_path(institution, name)}/members", limit=limit)


def add_members(api: Any, institution: str, name: str, members: list[dict]) -> dict:
    return api.post(f"{group_path(institution, name)}/members", {"members": members})


def remove_members(api: Any, institution: str, name: str, phones: list[str]) -> dict:
    return api.post(f"{group_path(institution, name)}/members/remove", {"phones": phones})


def import_members_path(institution: str, name: str) -> str:
    """Where `sms group import` posts its chunks (the bulk wire contract)."""
    return f"{group_path(institution, name)}/members/bulk"


# -- opt-outs -----------------------------------------------------------------------------


def add_optout(api: Any, body: dict) -> dict:
    return api.post(f"{BASE}/optouts", body)


def remove_optout(api: Any, institution: str, phone: str) -> None:
    api.delete(optout_path(institution, phone))


# -- sending and looking up -----------------------------------------------------------------


def settings(api: Any) -> dict:
    return api.get(f"{BASE}/settings")


def send(api: Any, body: dict) -> dict:
    """Quick or group send (or its dry run)."""
    return api.post(f"{BASE}/messages", body)


def create_batch(api: Any, body: dict, *, idempotency_key: str | None = None) -> dict:
    return api.post(f"{BASE}/batches", body, idempotency_key=idempotency_key)


def preview_batch(api: Any, body: dict) -> dict:
    """A batch's dry run: the backend's checks and estimate. It creates nothing, so it carries no
    Idempotency-Key and leaves no idempotency record behind (a file refused after it stores nothing)."""
    return api.request("POST", f"{BASE}/batches", json_body={**body, "dry_run": True}).json()


def add_recipients(api: Any, batch_id: int, items: list[dict], idempotency_key: str) -> list[dict]:
    response = api.request("POST", f"{BASE}/batches/{batch_id}/recipients", json_body={"items": items},
                           idempotency_key=idempotency_key)
    return response.json()["results"]


def message(api: Any, message_id: int) -> dict:
    return api.get(f"{BASE}/messages/{message_id}")


def messages(api: Any, *, limit: int | None, **filters: Any) -> list[dict]:
    return api.list(f"{BASE}/messages", limit=limit, **filters)


def batch(api: Any, batch_id: int) -> dict:
    return api.get(f"{BASE}/batches/{batch_id}")


def batches(api: Any, *, limit: int | None, **filters: Any) -> list[dict]:
    return api.list(f"{BASE}/batches", limit=limit, **filters)


def outbox(api: Any, *, limit: int | None, **filters: Any) -> list[dict]:
    return api.list(f"{BASE}/outbox", limit=limit, **filters)


def optouts(api: Any, *, limit: int | None, **filters: Any):
    """The opt-outs, as a listing (every page with ``limit=None``: it streams when printed).
    1,000 a page: an institution's can run to hundreds of thousands, and each is small."""
    return api.list(f"{BASE}/optouts", limit=limit, page_size=1000, **filters)


def batch_by_ref(api: Any, institution: str, client_ref: str) -> dict | None:
    """The batch a bulk run opened (found by the run's reference), or None."""
    found = api.list(f"{BASE}/batches", limit=1, institution=institution, client_ref=client_ref)
    return found[0] if found else None


def cancel_batch(api: Any, batch_id: int, *, dry_run: bool = False) -> dict:
    return api.post(f"{BASE}/batches/{batch_id}/cancel", {"dry_run": dry_run})


def cancel_message(api: Any, message_id: int, *, dry_run: bool = False) -> dict:
    return api.post(f"{BASE}/messages/{message_id}/cancel", {"dry_run": dry_run})
