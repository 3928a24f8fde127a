"""The mail service's routes, mounted at /api/v1/mail."""

from __future__ import annotations

from fastapi import APIRouter

from egactl_mail.server.routes import aliases, domains, lists, mailboxes, reconcile


def build() -> APIRouter:
    router = APIRouter()
    for module in (domains, mailboxes, aliases, lists, reconcile):
        router.include_router(module.router)
    return router
