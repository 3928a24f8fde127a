"""Sandbox example data: each seeded institution's real mail domain, a few RITA staff (one in each
state a command's examples start from), an alias and a distribution list."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from egactl.plugin.server import Institution
from egactl_mail import rules
from egactl_mail.server import names
from egactl_mail.server.models import MailAddress, Mailbox, MailDomain, MailList, MailListMember

DOMAINS = {
    "EGA": "ega.go.tz", "RITA": "rita.go.tz", "TRA": "tra.go.tz", "NIDA": "nida.go.tz", "MOH": "afya.go.tz",
    "UDOM": "udom.ac.tz", "KINONDONI-MC": "kinondonimc.go.tz", "ARUSHA-CC": "arushacc.go.tz",
}

STAFF = [
    ("111000001", "Juma Hassan", "Mrisho", "Registration", "Registration Officer", 512, rules.ACTIVE),
    ("111000002", "Neema", "Kweka", "ICT", "Systems Administrator", 1730, rules.ACTIVE),
    ("111000003", "Zuhura", "Ng'wanakilala", "Finance", "Accountant", 240, rules.ACTIVE),
    ("111000004", "Baraka", "Mwakyusa", "ICT", "Network Engineer", 900, rules.SUSPENDED),  # `mail resume`
    ("111000005", "Asha", "Said", "Legal", "Advocate", 120, rules.DELETED),  # `mail undelete`, `mail purge`
]
"""(employee number, given name, family name, department, title, MB used, state)."""

RETENTION_DAYS = 90  # the backend's default mail.retention_days: a deleted mailbox's address is kept this long

ALIASES = {"registration@rita.go.tz": "111000001"}
"""An alias for `mail alias list/delete`."""

LIST = ("staff@rita.go.tz", "All RITA staff", ("111000001", "111000002"))
"""A distribution list for `mail list-group show/add-members/remove-members/delete`: two of the staff."""


def seed(session: Session, now: dt.datetime) -> None:
    present = set(session.scalars(select(Institution.code)))
    for code, domain in DOMAINS.items():
        if code in present:
            session.add(MailDomain(domain=domain, institution=code, naming_rule=rules.DEFAULT_NAMING_RULE,
                                   is_primary=True, created_at=now))
    if "RITA" not in present:
        return
    by_number = {}
    for number, given, family, dept, title, used, state in STAFF:
        local = rules.local_part_for(given, family)
        deleted = state == rules.DELETED
        m = Mailbox(institution="RITA", domain="rita.go.tz", address=f"{local}@rita.go.tz", employee_number=number,
                    given_name=given, family_name=family, title=title, department=dept, quota_mb=2048, used_mb=used,
                    status=state, status_changed_at=now, must_change_password=False, version=1,
                    suspended_by="manual" if state == rules.SUSPENDED else None,
                    deleted_from=rules.ACTIVE if deleted else None,
                    retain_until=now + dt.timedelta(days=RETENTION_DAYS) if deleted else None,
                    created_at=now, updated_at=now)
        session.add(m)
        names.index(session, m)
        session.add(MailAddress(address=m.address, local_part=local, domain="rita.go.tz", stem=rules.stem(local),
                                kind="mailbox", institution="RITA", mailbox=m, created_at=now))
        by_number[number] = m
    for alias, number in ALIASES.items():
        local = alias.split("@")[0]
        session.add(MailAddress(address=alias, local_part=local, domain="rita.go.tz", stem=rules.stem(local),
                                kind="alias", institution="RITA", mailbox=by_number[number], created_at=now))
    address, name, numbers = LIST
    local = address.split("@")[0]
    lst = MailList(institution="RITA", address=address, name=name, version=1, created_at=now, updated_at=now)
    session.add(lst)
    session.add(MailAddress(address=address, local_part=local, domain="rita.go.tz", stem=rules.stem(local),
                            kind="list", institution="RITA", mail_list=lst, created_at=now))
    session.flush()
    for m in session.scalars(select(Mailbox).where(Mailbox.employee_number.in_(numbers)).order_by(Mailbox.address)):
        session.add(MailListMember(list_id=lst.id, member=m.address, kind="mailbox", mailbox_id=m.id, added_at=now))
