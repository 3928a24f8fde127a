"""GovNet's API under ``/api/v1/govnet``: one module per noun, all in the SDK's route frame."""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin.server import ApiRoute
from egactl_govnet.server.routes import importing, onboardings, pools, sites, status

router = APIRouter(route_class=ApiRoute)
for module in (pools, sites, onboardings, status, importing):
    router.include_router(module.router)
