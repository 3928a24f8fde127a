"""The dr plugin's part of the reference backend: inventory, drills, check history, report."""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin.server import ApiRoute
from egactl_dr.server import checks, drills, report, systems

router = APIRouter(route_class=ApiRoute)
for module in (systems, drills, checks, report):
    router.include_router(module.router)
