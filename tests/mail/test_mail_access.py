"""mail: who may see and change what, and the help desk's look-ups (instant: indexed)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egactl_mail.server.models import MailAddress, Mailbox, MailDomain

PEOPLE = [("RITA", "Juma Hassan", "Mrisho", "111234567", "ICT"), ("RITA", "Neema", "Kweka", "111234568", "Finance"),
          ("TRA", "Baraka", "Mwakyusa", "222234567", "Customs")]


@pytest.fixture
def mailboxes(cli, backend):
    with backend.write_sessions() as s:
        for code, domain in (("RITA", "rita.go.tz"), ("TRA", "tra.go.tz")):
            s.add(MailDomain(domain=domain, institution=code, naming_rule="given.family", is_primary=True,
                             created_at=backend.now()))
        s.commit()
    for inst, given, family, number, dept in PEOPLE:
        r = cli("mail", "create", "-i", inst, "--given-name", given, "--family-name", family, "-e", number, "--department", dept)
        assert r.exit_code == 0, r.stderr
    assert cli("mail", "alias", "create", "111234567", "ict.help").exit_code == 0


def snapshot(backend):
    with backend.read_sessions() as s:
        return [(m.address, m.status, m.version, m.quota_mb) for m in s.scalars(select(Mailbox).order_by(Mailbox.id))], \
            s.scalar(select(func.count()).select_from(MailAddress))


def test_helpdesk_reads_with_the_hr_key_masked(cli, mailboxes):
    r = cli("mail", "show", "juma.mrisho@rita.go.tz", "-o", "json", role="helpdesk")
    assert r.exit_code == 0, r.stderr
    shown = r.json()
    assert shown["employee_number"] == "******567"
    assert shown["display_name"] == "Juma Mrisho" and shown["aliases"] == ["ict.help@rita.go.tz"]
    listed = cli("mail", "list", "-o", "json", role="helpdesk").json()
    assert {m["institution"] for m in listed} == {"RITA", "TRA"}
    assert all(m["employee_number"].startswith("******") for m in listed)


def test_helpdesk_cannot_change_anything(cli, backend, mailboxes, tmp_path):
    before = snapshot(backend)
    roster = tmp_path / "roster.csv"
    roster.write_text("employee_number,institution,given_name,family_name\n111234567,RITA,Juma,Mrisho\n")
    staff = tmp_path / "staff.csv"
    staff.write_text("employee_number,institution,given_name,family_name\n111299999,RITA,Asha,Said\n")
    attempts = [
        ("create", "-i", "RITA", "--given-name", "Asha", "--family-name", "Said", "-e", "111299999"),
        ("suspend", "juma.mrisho@rita.go.tz", "--yes"), ("delete", "juma.mrisho@rita.go.tz", "--yes"),
        ("reset-password", "juma.mrisho@rita.go.tz", "--yes"), ("quota", "set", "juma.mrisho@rita.go.tz", "5G"),
        ("update", "juma.mrisho@rita.go.tz", "--department", "HR"),
        ("alias", "create", "juma.mrisho@rita.go.tz", "jm"), ("alias", "delete", "ict.help@rita.go.tz", "--yes"),
        ("list-group", "create", "all@rita.go.tz", "-i", "RITA", "--name", "All"),
        ("domains", "create", "rita.ac.tz", "-i", "RITA"),
        ("import", str(staff)), ("reconcile", "--roster", str(roster), "-i", "RITA"),
    ]
    for args in attempts:
        r = cli("mail", *args, role="helpdesk")
        assert r.exit_code == 4, (args, r.exit_code, r.stderr)
    assert snapshot(backend) == before


def test_operator_of_one_institution_cannot_touch_another(cli, backend, mailboxes):
    before = snapshot(backend)
    tra = "baraka.mwakyusa@tra.go.tz"
    for args in [("show", tra), ("suspend", tra, "--yes"), ("quota", "set", tra, "5G"),
                 ("reset-password", tra, "--yes"), ("alias", "create", tra, "bm"),
                 ("create", "-i", "TRA", "--given-name", "Asha", "--family-name", "Said", "-e", "222299999"),
                 ("list", "-i", "TRA")]:
        r = cli("mail", *args, role="operator")
        assert r.exit_code == 4, (args, r.stderr)
    assert snapshot(backend) == before
    own = cli("mail", "list", "-o", "json", role="operator").json()
    assert {m["institution"] for m in own} == {"RITA"}
    assert own[0]["employee_number"] == "111234567"  # operators see their own staff unmasked
    r = cli("mail", "suspend", "neema.kweka@rita.go.tz", "--yes", role="operator")
    assert r.exit_code == 0, r.stderr
    # TRA's operator can't even find out whether RITA's staff member has a mailbox
    r = cli("mail", "create", "-i", "TRA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "111234567", role="operator_tra")
    assert r.exit_code == 5 and "rita.go.tz" not in r.stderr


@pytest.mark.parametrize("query, expected", [
    ("juma.mrisho@rita.go.tz", ["juma.mrisho@rita.go.tz"]),
    ("ICT.HELP@rita.go.tz", ["juma.mrisho@rita.go.tz"]),   # by alias, any case
    ("111234568", ["neema.kweka@rita.go.tz"]),              # by employee number
    ("juma", ["juma.mrisho@rita.go.tz"]),                   # given name
    ("Kweka", ["neema.kweka@rita.go.tz"]),                  # family name
    ("juma hassan", ["juma.mrisho@rita.go.tz"]),            # several given names
    ("mwakyusa baraka", ["baraka.mwakyusa@tra.go.tz"]),     # family name first
    ("zzz", []),
])
def test_helpdesk_lookup(cli, mailboxes, query, expected):
    r = cli("mail", "list", "--search", query, "-o", "json", role="helpdesk")
    assert r.exit_code == 0, r.stderr
    assert [m["address"] for m in r.json()] == expected


def test_show_by_employee_number_and_not_found(cli, mailboxes):
    assert cli("mail", "show", "111234568", "-o", "json", role="helpdesk").json()["address"] == "neema.kweka@rita.go.tz"
    r = cli("mail", "show", "999999999", role="helpdesk")
    assert r.exit_code == 3 and "999999999" in r.stderr


def test_filters(cli, mailboxes):
    assert cli("mail", "suspend", "neema.kweka@rita.go.tz", "--yes").exit_code == 0
    r = cli("mail", "list", "-i", "RITA", "--state", "suspended", "-o", "json")
    assert [m["address"] for m in r.json()] == ["neema.kweka@rita.go.tz"]
    r = cli("mail", "list", "--department", "customs", "-o", "json")
    assert [m["address"] for m in r.json()] == ["baraka.mwakyusa@tra.go.tz"]
    r = cli("mail", "list", "--state", "gone")
    assert r.exit_code == 2
    empty = cli("mail", "list", "--search", "nobody", "-o", "json")
    assert empty.exit_code == 0 and empty.json() == []


def test_a_mailbox_list_cut_short_says_how_many_there_are(cli, mailboxes):
    """mail shapes its rows for people before rendering; the count must survive that."""
    r = cli("mail", "list", "--limit", "1")
    assert r.exit_code == 0 and r.stderr.strip().splitlines()[-1] == "showing 1 of 3; --limit N or --all"
    assert "showing" not in cli("mail", "list", "--all").stderr
