"""`egactl find` answers from mail: an address, an employee number, a name; `mail list --search` by the same names.

Through the real backend as admin, operator (only its institutions) and help desk
(the employee number masked, as `mail show` masks it for the help desk).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egactl_mail.server.models import MailNameToken
from tests.mail.domains import add_domains

STAFF = [
    # institution, given, family, preferred, employee number
    ("RITA", "Juma", "Mrisho", None, "111234567"),
    ("RITA", "Neema", "Ngʼwanza", None, "111234568"),
    ("RITA", "Éric", "Mushi", "Eric", "111234569"),
    ("RITA", "Mrisho", "Kweka", None, "111234570"),
    ("TRA", "Asha", "Said", None, "222000001"),
    ("TRA", "Juma", "Mrisho", None, "222000002"),
]


@pytest.fixture
def staff(cli, backend):
    add_domains(backend)
    addresses = {}
    for code, given, family, preferred, number in STAFF:
        args = ["mail", "create", "-i", code, "--given-name", given, "--family-name", family, "-e", number, "-o", "json"]
        if preferred:
            args += ["--preferred-name", preferred]
        r = cli(*args)
        assert r.exit_code == 0, r.stderr
        addresses[number] = r.json()["address"]
    assert cli("mail", "alias", "create", addresses["111234567"], "registrar").exit_code == 0
    r = cli("mail", "list-group", "create", "staff@rita.go.tz", "-i", "RITA", "--name", "All RITA staff",
            "-m", addresses["111234567"], "-m", addresses["111234568"])
    assert r.exit_code == 0, r.stderr
    return addresses


def found(cli, term, role="admin", code=0):
    r = cli("find", term, "--service", "mail", "-o", "json", role=role)
    assert r.exit_code == code, (term, role, r.stdout, r.stderr)
    return r.json() if code == 0 else []


def refs(items):
    return sorted(f["reference"] for f in items)


def test_an_address_finds_its_mailbox_alias_or_list_exactly(cli, staff):
    [m] = found(cli, "Juma.Mrisho@RITA.go.tz")
    assert (m["kind"], m["reference"], m["rank"], m["institution"]) == ("mailbox", "juma.mrisho@rita.go.tz", 100, "RITA")
    assert m["command"] == "egactl mail show juma.mrisho@rita.go.tz"
    assert m["summary"] == "Juma Mrisho · active · RITA · employee 111234567"
    [a] = found(cli, "registrar@rita.go.tz")
    assert (a["kind"], a["reference"]) == ("alias", "registrar@rita.go.tz")
    assert a["summary"].startswith("alias of juma.mrisho@rita.go.tz · Juma Mrisho · active")
    assert cli("mail", "show", "registrar@rita.go.tz").exit_code == 0  # the command it names works
    [lst] = found(cli, "staff@rita.go.tz")
    assert (lst["kind"], lst["summary"]) == ("distribution list", "All RITA staff · 2 members · RITA")
    assert lst["command"] == "egactl mail list-group show staff@rita.go.tz"
    assert cli("mail", "list-group", "show", "staff@rita.go.tz").exit_code == 0
    # an address's start is no address: exact only
    found(cli, "juma.mrisho@rita.go", code=3)


def test_an_employee_number_finds_the_mailbox_and_its_state(cli, staff):
    assert cli("mail", "suspend", staff["111234568"], "--yes").exit_code == 0
    [m] = found(cli, "111234568")
    assert (m["reference"], m["rank"]) == (staff["111234568"], 100)
    assert "· suspended ·" in m["summary"]


@pytest.mark.parametrize("term, who", [
    ("juma mr", {"juma.mrisho@rita.go.tz", "juma.mrisho@tra.go.tz"}),
    ("Mrisho Juma", {"juma.mrisho@rita.go.tz", "juma.mrisho@tra.go.tz"}),
    ("MRISHO", {"juma.mrisho@rita.go.tz", "juma.mrisho@tra.go.tz", "mrisho.kweka@rita.go.tz"}),
    ("Ngʼwanza", {"neema.ngwanza@rita.go.tz"}),
    ("ngwanza", {"neema.ngwanza@rita.go.tz"}),
    ("neema ng'w", {"neema.ngwanza@rita.go.tz"}),
    ("eric", {"eric.mushi@rita.go.tz"}),
    ("Éric Mu", {"eric.mushi@rita.go.tz"}),
    ("mr mr", set()),  # two words need two different words of the name
    ("juma x", set()),
])
def test_a_name_in_any_order_case_diacritics_or_start(cli, staff, term, who):
    items = found(cli, term, code=0 if who else 3)
    assert set(refs(items)) == who
    assert {f["kind"] for f in items} <= {"mailbox"}


def test_a_whole_name_ranks_above_a_start(cli, staff):
    items = found(cli, "Juma Mrisho")
    assert [f["rank"] for f in items] == [100, 100]
    items = found(cli, "juma mr")
    assert {f["rank"] for f in items} == {60}


def test_an_operator_finds_only_its_institutions(cli, staff):
    assert refs(found(cli, "juma mrisho", role="operator")) == ["juma.mrisho@rita.go.tz"]
    assert refs(found(cli, "juma mrisho", role="operator_tra")) == ["juma.mrisho@tra.go.tz"]
    found(cli, "asha.said@tra.go.tz", role="operator", code=3)
    found(cli, "222000001", role="operator", code=3)
    found(cli, "staff@rita.go.tz", role="operator_tra", code=3)
    [m] = found(cli, "222000001", role="operator_tra")
    assert m["reference"] == "asha.said@tra.go.tz"


def test_an_old_address_after_a_move_is_judged_by_where_the_mailbox_is_now(cli, staff):
    old = staff["111234568"]
    r = cli("mail", "update", old, "--move-to", "TRA", "-o", "json")
    assert r.exit_code == 0, r.stderr
    [m] = found(cli, old, role="operator_tra")
    assert (m["kind"], m["institution"]) == ("alias", "TRA")
    found(cli, old, role="operator", code=3)  # RITA no longer employs her: nothing to see


def test_the_help_desk_sees_what_mail_show_shows_it(cli, staff):
    [m] = found(cli, "111234567", role="helpdesk")
    assert m["summary"] == "Juma Mrisho · active · RITA · employee ******567"
    shown = cli("mail", "show", "111234567", "-o", "json", role="helpdesk").json()
    assert shown["employee_number"] == "******567" and shown["display_name"] == "Juma Mrisho"
    for term in ("juma.mrisho@rita.go.tz", "juma mr"):
        assert all("111234567" not in f["summary"] for f in found(cli, term, role="helpdesk"))


def test_a_purged_mailbox_is_found_by_its_old_address_only(cli, backend, clock, staff):
    address = staff["111234570"]
    assert cli("mail", "delete", address, "--yes").exit_code == 0
    clock.advance(days=91)
    assert cli("mail", "purge", address, "--yes").exit_code == 0
    [m] = found(cli, address)
    assert m["kind"] == "mailbox" and "· purged ·" in m["summary"] and "no name kept" in m["summary"]
    found(cli, "mrisho kweka", code=3)
    found(cli, "111234570", code=3)


@pytest.mark.parametrize("term, who", [
    ("juma mr", ["juma.mrisho@rita.go.tz", "juma.mrisho@tra.go.tz"]),
    ("Mrisho Juma", ["juma.mrisho@rita.go.tz", "juma.mrisho@tra.go.tz"]),
    ("Ngʼwanza", ["neema.ngwanza@rita.go.tz"]),
    ("ÉRIC", ["eric.mushi@rita.go.tz"]),
    ("registrar@rita", ["juma.mrisho@rita.go.tz"]),  # an alias's start
    ("asha.s", ["asha.said@tra.go.tz"]),  # an address's start
    ("222000002", ["juma.mrisho@tra.go.tz"]),
    ("mr mr", []),
])
def test_mail_list_search_matches_names_as_find_does(cli, staff, term, who):
    r = cli("mail", "list", "--search", term, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert sorted(m["address"] for m in r.json()) == who


def test_the_name_a_table_shows_is_findable_after_every_change(cli, backend, staff):
    """Update, import and purge keep the token table in step with the names."""
    ref = staff["111234569"]
    r = cli("mail", "update", ref, "--family-name", "Mwakyusa-Ngʼombe")
    assert r.exit_code == 0, r.stderr
    assert [m["address"] for m in cli("mail", "list", "--search", "ngombe eric", "-o", "json").json()] == [ref]
    assert cli("mail", "list", "--search", "mushi", "-o", "json").json() == []
    assert refs(found(cli, "mwakyusa")) == [ref]


def test_a_middle_name_or_a_hyphenated_one_does_not_hide_a_person(cli, staff):
    """Before the token table a search had to start the whole name: "juma mrisho" missed Juma Hassan Mrisho."""
    ref = staff["111234567"]
    assert cli("mail", "update", ref, "--given-name", "Juma Hassan").exit_code == 0
    for term in ("juma mrisho", "hassan", "mrisho hassan juma"):
        r = cli("mail", "list", "-i", "RITA", "--search", term, "-o", "json")
        assert [m["address"] for m in r.json()] == [ref], term
    assert [f["rank"] for f in found(cli, "Juma Hassan Mrisho")] == [100]


def test_an_import_indexes_the_names_it_creates(cli, backend, staff, tmp_path):
    csv = tmp_path / "staff.csv"
    csv.write_text("institution,employee_number,given_name,family_name\nRITA,111300001,Zuhura,Ngwanakilala\n")
    r = cli("mail", "import", str(csv))
    assert r.exit_code == 0, r.stderr
    [m] = found(cli, "zuhura ngwana")
    assert m["reference"] == "zuhura.ngwanakilala@rita.go.tz"
    with backend.read_sessions() as s:
        assert sorted(s.scalars(select(MailNameToken.token).join_from(MailNameToken, MailNameToken.mailbox)
                                .where(MailNameToken.mailbox.has(address=m["reference"])))) == ["ngwanakilala", "zuhura"]


def test_a_purged_mailbox_says_when_in_east_africa_time(cli, clock, staff):
    """Purged at 22:30 UTC is 01:30 the next day in Dar es Salaam: the summary says it as egactl shows
    times (a date cut from the UTC time was a day early)."""
    address = staff["111234570"]
    assert cli("mail", "delete", address, "--yes").exit_code == 0
    clock.advance(days=91, hours=13, minutes=30)  # 2027-02-21 22:30 UTC
    assert cli("mail", "purge", address, "--yes").exit_code == 0
    [m] = found(cli, address)
    assert m["summary"].endswith(" · purged 2027-02-22 01:30 EAT")
