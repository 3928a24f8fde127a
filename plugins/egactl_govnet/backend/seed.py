"""Sandbox example data: two regional pools and a site, so `egactl govnet` is useful at once."""

from __future__ import annotations

from sqlalchemy.orm import Session

from egactl_govnet.backend import allocator
from egactl_govnet.backend.models import Pool, PoolVlans, Site

POOLS = [
    ("dodoma-1", "10.20.0.0/16", 29, "Dodoma", [("DODOMA", 100, 899)]),
    ("dar-1", "10.30.0.0/16", 29, "Dar es Salaam", [("DAR-ES-SALAAM", 100, 1999)]),
]


def seed(session: Session) -> None:
    import ipaddress

    from egactl.plugin.server import system_clock

    now = system_clock()
    for name, cidr, default, region, vlans in POOLS:
        net = ipaddress.IPv4Network(cidr)
        pool = Pool(name=name, cidr=cidr, start=int(net.network_address), length=net.prefixlen,
                    stop=int(net.broadcast_address) + 1, default_prefix_length=default, region=region,
                    description=f"{region} region", version=1, created_at=now)
        session.add(pool)
        session.flush()
        ranges = [PoolVlans(pool_id=pool.id, pop=pop, first=first, last=last) for pop, first, last in vlans]
        session.add_all(ranges)
        session.flush()
        allocator.init_free_space(session, pool, ranges)
    session.add(Site(institution="RITA", name="dodoma-hq", region="Dodoma", district="Dodoma CBD",
                     address="Mtaa wa Jamatini, Dodoma", contact_name="Asha Mwinyi", contact_phone="+255754000111",
                     contact_email="ict@rita.go.tz", version=1, created_at=now, updated_at=now))
