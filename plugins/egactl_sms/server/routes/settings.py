"""/api/v1/sms/settings: the public settings (price per segment, quiet hours, which driver delivers)."""

from __future__ import annotations

from fastapi import APIRouter

from egactl.plugin.server import ApiRoute
from egactl_sms import rules
from egactl_sms.server import drivers
from egactl_sms.server.service import setting

router = APIRouter(route_class=ApiRoute, tags=["sms"])


@router.get("/settings")
def show_settings():
    problem = drivers.configuration_problem(setting)
    return {"driver": drivers.driver_name(setting), "driver_ready": problem is None, "driver_problem": problem,
            "rate": float(setting("rate")), "price_per_segment": float(setting("price_per_segment")),
            "currency": setting("currency"), "quiet_hours": rules.QUIET_HOURS,
            "max_segments": rules.MAX_SEGMENTS, "max_quick_recipients": rules.MAX_QUICK_RECIPIENTS}
