"""``egactl find`` in GovNet: an address or prefix, a circuit id, or a contact's number → the site.

- An IPv4 address or prefix (``term.ip``; an address is its /32): the site whose
  prefix contains it, and, for a prefix wider than a site's, the sites inside it.
  A prefix in use (or on hold after decommissioning) is an allocation row, whose
  first address has a unique index. Prefixes never overlap (pools do not, and a
  pool's allocations are carved from its free list), so the one allocation that
  can contain an address is the one with the greatest first address not above
  it: the last entry of one index range, one row read whatever the number of
  sites; its last address is then compared. The sites inside a prefix are an
  index range of first addresses.
- A circuit id as the provider wrote it (``TTCL-DOM-00123``): the requests that
  recorded it, newest first (index on circuit id, id).
- A phone number (``term.phone``): the sites whose contact has that number (index
  on the contact's number, in each form a number may be stored in), the contact
  masked for the help desk exactly as ``govnet sites show`` masks it
  (``service.serialize_site``).

Each result is a site (``RITA/dodoma-hq``), scoped by ``visible`` to what the
caller may read; ``egactl govnet sites show`` shows more.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import select

from egactl.plugin.rules import time_for_people
from egactl.plugin.server import Found, Term, db, visible
from egactl_govnet import addressing, rules
from egactl_govnet.server.models import Allocation, Onboarding, Pool, Site
from egactl_govnet.server.service import serialize_onboarding, serialize_site, site_key

CONTAINS, INSIDE = 100, 80
CIRCUIT_OPEN, CIRCUIT_CLOSED = 100, 60
CONTACT = 100
MAX_CIRCUIT = 64


def find(term: Term, limit: int) -> list[Found]:
    found: list[Found] = []
    if term.ip is not None:
        found += by_address(term.ip, limit)
    if term.ip is None and term.email is None and _can_be_circuit(term.text):
        found += by_circuit(term.text, limit)
    if term.phone:
        found += by_contact_phone(term.phone, limit)
    return found[:limit]


# -- an address or a prefix ----------------------------------------------------------


def _containing(first: int) -> int | None:
    """The allocation whose prefix may contain ``first``: the greatest first address not above it."""
    return db().scalar(select(Allocation.id).where(Allocation.start <= first)
                       .order_by(Allocation.start.desc()).limit(1))


def _inside(first: int, last: int, limit: int) -> list[int]:
    """The caller's allocations whose prefix starts inside ``first``..``last`` (they lie wholly inside it).

    Scoped in the query itself, so that another institution's prefixes never crowd an
    operator's out of the limit (an operator's sites are few: the database may as well
    start from them)."""
    stmt = (select(Allocation.id).join(Onboarding, Onboarding.id == Allocation.onboarding_id)
            .join(Site, Site.id == Onboarding.site_id)
            .where(Allocation.start >= first, Allocation.start <= last))
    return list(db().scalars(visible(stmt, Site.institution).order_by(Allocation.start).limit(limit)))


def by_address(net: ipaddress.IPv4Network, limit: int) -> list[Found]:
    first, last = int(net.network_address), int(net.broadcast_address)
    ids = [i for i in [_containing(first)] if i is not None]
    if net.prefixlen < 32:
        ids += _inside(first, last, limit)
    if not ids:
        return []
    rows = db().execute(visible(select(Allocation, Onboarding, Site, Pool.name)
                                .join(Onboarding, Onboarding.id == Allocation.onboarding_id)
                                .join(Site, Site.id == Onboarding.site_id)
                                .join(Pool, Pool.id == Onboarding.pool_id)
                                .where(Allocation.id.in_(sorted(set(ids)))), Site.institution)).all()
    found = []
    for alloc, ob, site, pool in sorted(rows, key=lambda r: r[0].start):
        block = (alloc.start, alloc.length)
        if addressing.contains(block, (first, net.prefixlen)):
            rank = CONTAINS
        elif addressing.contains((first, net.prefixlen), block):
            rank = INSIDE
        else:  # the nearest prefix below the address ends before it: nobody holds the address
            continue
        found.append(_site_found(site, ob, pool, rank))
    return found


# -- a circuit id --------------------------------------------------------------------


def _can_be_circuit(text: str) -> bool:
    return 0 < len(text) <= MAX_CIRCUIT and text.isascii() and text.isprintable() and " " not in text


def by_circuit(circuit: str, limit: int) -> list[Found]:
    found: list[Found] = []
    for candidate in dict.fromkeys((circuit, circuit.upper())):  # as typed, and as providers write them
        rows = db().execute(visible(select(Onboarding, Site, Pool.name).join(Site, Site.id == Onboarding.site_id)
                                    .join(Pool, Pool.id == Onboarding.pool_id)
                                    .where(Onboarding.circuit_id == candidate), Site.institution)
                            .order_by(Onboarding.id.desc()).limit(limit)).all()
        found += [_site_found(site, ob, pool, CIRCUIT_OPEN if ob.open else CIRCUIT_CLOSED) for ob, site, pool in rows]
    return found


# -- a contact's number ---------------------------------------------------------------


def by_contact_phone(phone: str, limit: int) -> list[Found]:
    sites: list[Site] = []
    for form in rules.stored_phone_forms(phone):  # one index range each, in answer order
        sites += db().scalars(visible(select(Site).where(Site.contact_phone == form), Site.institution)
                              .order_by(Site.institution, Site.id).limit(limit)).all()
    found = []
    for site in sites:
        data = serialize_site(site)  # masked for the help desk as `govnet sites show` is
        contact = ", ".join(v for v in (data["contact"]["name"], data["contact"]["phone"], data["contact"]["email"]) if v)
        found.append(Found(kind="contact", reference=site_key(site),
                           summary=f"contact {contact} · {site.region}", command=_command(site),
                           institution=site.institution, rank=CONTACT))
    return found


# -- one line about a site --------------------------------------------------------------


def _command(site: Site) -> str:
    return f"egactl govnet sites show {site_key(site)}"


def summary(ob: dict) -> str:
    """One line from a request as ``govnet sites show`` serialises it: state, prefix, VLAN, circuit."""
    parts = [ob["state"]]
    if ob["prefix"]:
        held = {"held": f" held until {time_for_people(ob['hold_until'])}", "released": " released"}.get(ob["resources"], "")
        parts.append(f"{ob['prefix']}{held}")
    if ob["vlan"] is not None:
        parts.append(f"VLAN {ob['vlan']} at {ob['pop']}")
    if ob["circuit"]:
        parts.append(f"circuit {ob['circuit']['provider']} {ob['circuit']['circuit_id']}")
    parts.append(ob["region"])
    return " · ".join(parts)


def _site_found(site: Site, ob: Onboarding, pool: str, rank: int) -> Found:
    return Found(kind="site", reference=site_key(site), summary=summary(serialize_onboarding(ob, site, pool)),
                 command=_command(site), institution=site.institution, rank=rank)
