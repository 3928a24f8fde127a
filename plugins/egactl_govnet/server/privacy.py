"""GovNet's part of a data subject's request: a site's contact person.

A site's contact (name, number, e-mail) is the one thing GovNet holds about a
person known by a phone number. The report gives every contact with the
subject's number that the caller may read, unmasked; erasure removes the whole
contact from those sites now (the site keeps working; its institution names a
new contact with ``govnet sites update``). Numbers are found by the contact-number
index, in each form a number may be stored in (``rules.stored_phone_forms``).
Nothing else is kept about such a person, so there is no retention period: a
contact lives as long as its site, and a deleted site takes it with it.
Staff accounts (``requested_by``, a link test's ``tested_by``) name e-GA's and the
institutions' accounts, never a subject's number, and stay for accountability.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from egactl.plugin import Privacy
from egactl.plugin.server import also_named, backend, db, visible
from egactl_govnet import rules
from egactl_govnet.server.models import Site
from egactl_govnet.server.service import site_key

CONTACT_FIELDS = ("contact_name", "contact_phone", "contact_email")


def _sites(subject: Any, *, scoped: bool) -> list[Site]:
    if not subject.phone:
        return []
    stmt = select(Site).where(Site.contact_phone.in_(rules.stored_phone_forms(subject.phone)))
    if scoped:
        stmt = visible(stmt, Site.institution)
    return sorted(db().scalars(stmt), key=lambda site: site.id)  # a person's few sites: sorted here, read by the index


def report(subject: Any) -> list[dict[str, Any]]:
    """Every site contact with the subject's number the caller may read, as stored."""
    return [{"kind": "site contact", "reference": site_key(site), "institution": site.institution,
             "data": {"site": site_key(site), "name": site.contact_name, "phone": site.contact_phone,
                      "email": site.contact_email}}
            for site in _sites(subject, scoped=True)]


def erase(subject: Any) -> dict[str, int]:
    """Remove the contact from every site whose contact has the subject's number (admins: every institution)."""
    sites = _sites(subject, scoped=False)
    now = backend().now()
    for site in sites:
        also_named(site.contact_email)  # the audit log's copies of them go too
        also_named(site.contact_name, identifying=False)
        for field in CONTACT_FIELDS:
            setattr(site, field, None)
        site.updated_at = now
    db().flush()
    return {"site contacts removed": len(sites)}


PRIVACY = Privacy(report=report, erase=erase)
