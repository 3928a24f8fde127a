"""The dr plugin's routes, one module per noun, all under /api/v1/dr."""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin.server import ApiRoute
from egactl_dr.server.routes import checks, drills, report, sandbox, systems

router = APIRouter(route_class=ApiRoute)
for module in (systems, drills, checks, report, sandbox):
    router.include_router(module.router)
