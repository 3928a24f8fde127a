"""Sandbox example data: two regional pools and a site, so `egactl govnet` is useful at once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from egactl_govnet.server import allocator
from egactl_govnet.server.models import Site

POOLS = [
    ("dodoma-1", "10.20.0.0/16", 29, "Dodoma", [("DODOMA", 100, 899)]),
    ("dar-1", "10.30.0.0/16", 29, "Dar es Salaam", [("DAR-ES-SALAAM", 100, 1999)]),
]


def seed(session: Session, now: dt.datetime) -> None:
    import ipaddress

    for name, cidr, default, region, vlans in POOLS:
        allocator.new_pool(session, name=name, net=ipaddress.IPv4Network(cidr), default_prefix_length=default,
                           region=region, description=f"{region} region", vlans=vlans, now=now)
    session.add(Site(institution="RITA", name="dodoma-hq", region="Dodoma", district="Dodoma CBD",
                     address="Mtaa wa Jamatini, Dodoma", contact_name="Asha Mwinyi", contact_phone="+255754000111",
                     contact_email="ict@rita.go.tz", version=1, created_at=now, updated_at=now))
