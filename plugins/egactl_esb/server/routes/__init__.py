"""The emulator's routes, one module per noun, all under /api/v1/esb."""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin.server import ApiRoute
from egactl_esb.server.routes import apis, clients, engine, key, oauth, sandbox

router = APIRouter(route_class=ApiRoute)
for module in (oauth, engine, clients, apis, key, sandbox):
    router.include_router(module.router)
