"""The sms router: one module per noun, mounted at /api/v1/sms."""

from __future__ import annotations

from fastapi import APIRouter

from egactl_sms.server.routes import batches, groups, messages, optouts, outbox, senders, settings

router = APIRouter()
router.include_router(senders.router, prefix="/senders")
router.include_router(groups.router, prefix="/groups")
router.include_router(optouts.router, prefix="/optouts")
router.include_router(messages.router)
router.include_router(batches.router)
router.include_router(outbox.router)
router.include_router(settings.router)
