"""``egactl find`` in the DR inventory: a host name or URL → the system with an endpoint there.

``crvs.rita.go.tz``, ``https://crvs-dr.rita.go.tz/health`` or an endpoint's IPv4
address name the system whose primary or DR endpoint is on that host (each
endpoint's host has a column and an index of its own, written with the
endpoint), with which site it is and the system's last check: its state and
when, and the problems the check saw at that site. A check posted by the help
desk is unverified and is said to be so, as ``dr systems show`` and the report
say. Operators find only their institutions' systems (``visible``); nothing here
is personal data.
"""

from __future__ import annotations

from sqlalchemy import select

from egactl.plugin.rules import time_for_people
from egactl.plugin.server import Found, Term, db, visible
from egactl_dr.server.models import DrSystem

EXACT = 100
SITES = (("primary", DrSystem.primary_host, "primary_endpoint", "primary site"),
         ("dr", DrSystem.dr_host, "dr_endpoint", "DR site"))


def _host(term: Term) -> str | None:
    if term.host:
        return term.host
    if term.ip is not None and term.ip.prefixlen == 32:
        return str(term.ip.network_address)
    return None


def find(term: Term, limit: int) -> list[Found]:
    host = _host(term)
    if host is None:
        return []
    found: list[Found] = []
    for prefix, column, endpoint, label in SITES:
        rows = db().scalars(visible(select(DrSystem).where(column == host), DrSystem.institution)
                            .order_by(DrSystem.institution, DrSystem.id).limit(limit)).all()
        found += [Found(kind="system", reference=s.ref,
                        summary=summary(s, prefix, label, getattr(s, endpoint)),
                        command=f"egactl dr systems show {s.ref}", institution=s.institution, rank=EXACT)
                  for s in rows]
    return found[:limit]


def last_check(system: DrSystem, site: str) -> str:
    """``last check WARNING at 2026-11-30 07:56 EAT (dr.tls WARNING)``: the state, when, and what was
    not OK at this site (``dr systems show`` and ``dr history`` say why); or ``never checked``."""
    if system.last_check_at is None:
        line = "never checked"
    else:
        line = f"last check {system.last_check_status} at {time_for_people(system.last_check_at)}"
        here = [p.split(":", 1)[0] for p in system.last_check_problems or [] if p.startswith(f"{site}.")]
        if here:
            line += f" ({', '.join(here)})"
    if system.observed_at is not None and (system.last_check_at is None or system.observed_at > system.last_check_at):
        line += f"; unverified {system.observed_status} at {time_for_people(system.observed_at)}"
    return line


def summary(system: DrSystem, site: str, label: str, endpoint: str) -> str:
    return f"{label} {endpoint} · {system.criticality} · {last_check(system, site)}"
