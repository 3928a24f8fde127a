"""The mail plugin's API paths and calls (the commands stay about options and output)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

BASE = "/api/v1/mail"


def mailbox_path(ref: str) -> str:
    """A mailbox by address or employee number (both are single path segments)."""
    return f"{BASE}/mailboxes/{quote(ref.strip(), safe='@')}"


def list_path(address: str) -> str:
    return f"{BASE}/lists/{quote(address.strip().lower(), safe='@')}"


def get_mailbox(api: Any, ref: str) -> dict[str, Any]:
    return api.get(mailbox_path(ref))


def get_mailbox_with_etag(api: Any, ref: str) -> tuple[dict[str, Any], str | None]:
    return api.get_with_etag(mailbox_path(ref))


def get_list_with_etag(api: Any, address: str) -> tuple[dict[str, Any], str | None]:
    return api.get_with_etag(list_path(address))


def transition(api: Any, ref: str, action: str, reason: str | None, etag: str | None = None) -> dict[str, Any]:
    """A lifecycle step of the mailbox as we read it (``etag``: 412 if it changed meanwhile)."""
    body = {"reason": reason} if reason else {}
    return api.post(f"{mailbox_path(ref)}/{action}", body, etag=etag)


def reset_password(api: Any, ref: str, etag: str | None = None) -> dict[str, Any]:
    # Deliberately without an Idempotency-Key: the server must not store an
    # answer holding a password (it refuses the header on this route).
    return api.request("POST", f"{mailbox_path(ref)}/reset-password", json_body={}, if_match=etag).json()


def reconcile(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    return api.post(f"{BASE}/reconcile", body)
