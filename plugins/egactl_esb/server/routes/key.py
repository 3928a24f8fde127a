"""/api/v1/esb/key: the bus's public key, which every client verifies the bus's answers with.

Made at the bus's first use and kept in its database (or set with the
``esb.private_key`` backend setting); only the public half ever leaves it.
"""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin.server import ApiRoute
from egactl_esb import rules
from egactl_esb.server.schemas import BusKeyOut
from egactl_esb.server.service import bus_key, fingerprint

router = APIRouter(route_class=ApiRoute, tags=["esb"])


@router.get("/key", response_model=BusKeyOut)
def show_bus_key():
    """The bus's public key (base64 of SubjectPublicKeyInfo DER), its curve and fingerprint."""
    key = bus_key()
    public = rules.export_public(key)
    return {"public_key": public, "curve": rules.curve_name(key), "key_fingerprint": fingerprint(public)}
