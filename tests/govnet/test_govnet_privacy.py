"""A data subject's request in GovNet: a site's contact person, found by their number
(in every form a number may be stored in), reported unmasked to whoever may read the
site, and removed by an erasure while the site keeps working."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from egactl.server.models import AuditEntry
from egactl_govnet.server.models import Site

NUMBER = "+255754000111"


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


@pytest.fixture
def contacts(cli, backend):
    """Asha is the contact of RITA/dodoma-hq and TRA/dodoma, and of MOH/hq in a row stored before
    the phone rule (national form); Juma of RITA/arusha."""
    for ref, name, phone, email in (("RITA/dodoma-hq", "Asha Mwinyi", "0754 000 111", "asha.mwinyi@rita.go.tz"),
                                    ("TRA/dodoma", "Asha Mwinyi", NUMBER, None),
                                    ("MOH/hq", "Asha M.", "0754 000 111", None),
                                    ("RITA/arusha", "Juma Bakari", "0754 000 222", "ict@rita.go.tz")):
        args = ["govnet", "sites", "create", ref, "--region", "Dodoma", "--contact-name", name, "--contact-phone", phone]
        ok(cli(*args, *(["--contact-email", email] if email else [])))
    with backend.write_sessions() as s:
        s.execute(update(Site).where(Site.institution == "MOH").values(contact_phone="0754000111"))
        s.commit()


def govnet_items(cli, role="admin"):
    r = ok(cli("privacy", "report", "0754000111", "--case", "PDPA-1", "-o", "json", role=role))
    return [i for i in r.json()["items"] if i["service"] == "govnet"]


def stored_contacts(backend):
    with backend.read_sessions() as s:
        return {f"{r.institution}/{r.name}": (r.contact_name, r.contact_phone, r.contact_email)
                for r in s.scalars(select(Site).order_by(Site.id))}


def test_a_report_gives_every_contact_with_the_number_unmasked(cli, contacts):
    items = govnet_items(cli)
    assert [(i["kind"], i["reference"], i["institution"]) for i in items] == [
        ("site contact", "RITA/dodoma-hq", "RITA"), ("site contact", "TRA/dodoma", "TRA"), ("site contact", "MOH/hq", "MOH")]
    assert items[0]["data"] == {"site": "RITA/dodoma-hq", "name": "Asha Mwinyi", "phone": NUMBER,
                                "email": "asha.mwinyi@rita.go.tz"}
    assert items[2]["data"]["phone"] == "0754000111"  # as stored


def test_an_operator_is_reported_only_its_institutions_contacts(cli, contacts):
    assert [i["reference"] for i in govnet_items(cli, role="operator")] == ["RITA/dodoma-hq"]
    assert [i["reference"] for i in govnet_items(cli, role="operator_tra")] == ["TRA/dodoma"]


def test_erasure_removes_the_contact_everywhere_and_the_sites_keep_working(cli, backend, contacts):
    before = stored_contacts(backend)
    r = ok(cli("privacy", "erase", "0754 000 111", "--case", "PDPA-2", "--dry-run", "-o", "json"))
    assert r.json()["erased"]["govnet"] == {"site contacts removed": 3}
    assert stored_contacts(backend) == before  # a dry run changes nothing

    r = ok(cli("privacy", "erase", "0754 000 111", "--case", "PDPA-2", "--yes", "-o", "json"))
    assert r.json()["erased"]["govnet"] == {"site contacts removed": 3}
    after = stored_contacts(backend)
    assert after == {"RITA/dodoma-hq": (None, None, None), "TRA/dodoma": (None, None, None), "MOH/hq": (None, None, None),
                     "RITA/arusha": before["RITA/arusha"]}  # someone else's contact stays
    assert govnet_items(cli) == []
    assert cli("find", "0754000111", "--service", "govnet").exit_code == 3
    shown = ok(cli("govnet", "sites", "show", "RITA/dodoma-hq", "-o", "json")).json()
    assert shown["contact"] == {"name": None, "phone": None, "email": None}
    ok(cli("govnet", "sites", "update", "RITA/dodoma-hq", "--contact-name", "Neema Said", "--contact-phone", "0754000333"))
    # what govnet wrote in the audit log for the erasure names nobody (the core audits the request itself)
    with backend.read_sessions() as s:
        erasure = s.scalars(select(AuditEntry).where(AuditEntry.action == "erase")).all()
    assert erasure and "754000111" not in json.dumps([[e.resource_id, e.reason, e.after] for e in erasure])


def test_erasure_leaves_no_entry_of_the_audit_log_naming_the_contact(cli, backend, contacts):
    """The sites' create entries held the contact's name and e-mail beside the number: all three go."""
    ok(cli("privacy", "erase", "0754 000 111", "--case", "PDPA-4", "--yes"))
    with backend.read_sessions() as s:
        logged = json.dumps([[e.resource_id, e.reason, e.before, e.after] for e in s.scalars(select(AuditEntry))])
    for value in ("754000111", "Asha Mwinyi", "asha.mwinyi@rita.go.tz", "Asha M."):
        assert value not in logged, value
    assert "Juma Bakari" in logged  # another person's entries are untouched


def test_a_subject_known_by_an_employee_number_has_no_govnet_contact(cli, contacts):
    r = ok(cli("privacy", "report", "111234567", "--case", "PDPA-3", "-o", "json"))
    assert [i for i in r.json()["items"] if i["service"] == "govnet"] == []


def test_the_report_reads_contacts_from_the_contact_number_index_on_sqlite(cli, backend, contacts):
    from egactl.plugin.testing import query_plans

    plans = query_plans(backend.engine, "govnet_sites", lambda: govnet_items(cli))
    assert plans and all("ix_govnet_sites_contact_phone" in p and "SCAN" not in p for p in plans), plans


def test_the_report_reads_contacts_from_the_contact_number_index_on_postgresql(postgres_url):
    from egactl.plugin.testing import query_plans
    from tests.conftest import cli_on

    with cli_on(postgres_url) as (cli, be):
        ok(cli("govnet", "sites", "create", "RITA/dodoma-hq", "--region", "Dodoma", "--contact-phone", "0754000111"))
        plans = query_plans(be.engine, "govnet_sites", lambda: govnet_items(cli))
        assert plans and all("ix_govnet_sites_contact_phone" in p and "Seq Scan" not in p for p in plans), plans
