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


def transition(api: Any, ref: str, action: str, reason: str | None) -> dict[str, Any]:
    body = {"reason": reason} if reason else {}
    return api.post(f"{mailbox_path(ref)}/{action}", body)


def reset_password(api: Any, ref: str) -> dict[str, Any]:
    # Deliberately without an Idempotency-Key: the server must not store an
    # answer holding a password (it refuses the header on this route).
    return api.request("POST", f"{mailbox_path(ref)}/reset-password", json_body={}).json()


def reconcile(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    return api.post(f"{BASE}/reconcile", body)
