"""/api/v1/ussd: the *152*NN# registry over HTTP, one module per noun.

Codes appear in paths as their two digits (``/codes/07``; ``7`` works too) and
in bodies and answers as ``*152*07#``. Every token may read the registry (the
codes are public: citizens dial them); operators change only their own
institutions' codes; the network provisioning status and the quotas are e-GA's
to record. ``/demo`` is a small USSD application the backend serves itself (the
sandbox's ``*152*99#``), for ``egactl ussd simulate``.
"""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin.server import ApiRoute
from egactl_ussd.server.routes import codes, demo, quotas

router = APIRouter(route_class=ApiRoute, tags=["ussd"])
router.include_router(codes.router)
router.include_router(quotas.router)
router.include_router(demo.router)
