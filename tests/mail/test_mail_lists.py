"""mail: aliases, distribution lists, and transfers (a mailbox's addresses over its life)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egactl_mail.server.models import MailAddress, Mailbox, MailDomain


@pytest.fixture
def people(cli, backend):
    with backend.write_sessions() as s:
        for code, domain in (("RITA", "rita.go.tz"), ("TRA", "tra.go.tz")):
            s.add(MailDomain(domain=domain, institution=code, naming_rule="given.family", is_primary=True,
                             created_at=backend.now()))
        s.commit()
    for given, family, number in (("Juma", "Mrisho", "100000001"), ("Neema", "Kweka", "100000002")):
        r = cli("mail", "create", "-i", "RITA", "--given-name", given, "--family-name", family, "-e", number, "--department", "ICT")
        assert r.exit_code == 0, r.stderr


def claims(backend):
    with backend.read_sessions() as s:
        return {a.address: (a.kind, a.mailbox_id is not None) for a in s.scalars(select(MailAddress))}


def test_aliases(cli, backend, people):
    r = cli("mail", "alias", "create", "juma.mrisho@rita.go.tz", "registrar", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["address"] == "registrar@rita.go.tz"
    assert cli("mail", "alias", "create", "100000002", "registrar@rita.go.tz").exit_code == 5
    assert cli("mail", "alias", "create", "100000002", "neema@tra.go.tz").exit_code == 2  # not RITA's domain
    listed = cli("mail", "alias", "list", "juma.mrisho@rita.go.tz", "-o", "json").json()
    assert [a["address"] for a in listed] == ["registrar@rita.go.tz"]
    # the alias finds the mailbox
    assert cli("mail", "show", "registrar@rita.go.tz", "-o", "json").json()["address"] == "juma.mrisho@rita.go.tz"
    # a mailbox's own address is not an alias
    r = cli("mail", "alias", "delete", "juma.mrisho@rita.go.tz", "--yes")
    assert r.exit_code == 3 and "own address" in r.stderr
    # a deleted mailbox keeps its aliases until purge
    assert cli("mail", "delete", "juma.mrisho@rita.go.tz", "--yes").exit_code == 0
    assert cli("mail", "alias", "delete", "registrar@rita.go.tz", "--yes").exit_code == 5
    assert cli("mail", "undelete", "juma.mrisho@rita.go.tz").exit_code == 0
    r = cli("mail", "alias", "delete", "registrar@rita.go.tz", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "registrar@rita.go.tz" not in claims(backend)


def test_distribution_lists(cli, backend, people):
    assert cli("mail", "alias", "create", "100000002", "finance").exit_code == 0
    r = cli("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "ICT unit",
            "-m", "juma.mrisho@rita.go.tz", "-m", "Consultant@Example.org", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert {(m["address"], m["kind"]) for m in r.json()["members"]} == {
        ("juma.mrisho@rita.go.tz", "mailbox"), ("Consultant@example.org", "external")}
    assert claims(backend)["ict@rita.go.tz"] == ("list", False)
    # an address in a government domain must exist: a typo would silently lose mail
    r = cli("mail", "list-group", "add-members", "ict@rita.go.tz", "juma.mrsho@rita.go.tz")
    assert r.exit_code == 2 and "juma.mrsho@rita.go.tz" in r.stderr
    assert cli("mail", "list-group", "create", "all@rita.go.tz", "-i", "RITA", "--name", "All").exit_code == 0
    r = cli("mail", "list-group", "add-members", "ict@rita.go.tz", "finance@rita.go.tz", "all@rita.go.tz",
            "juma.mrisho@rita.go.tz", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert {(m["address"], m["kind"]) for m in r.json()["members"]} >= {
        ("finance@rita.go.tz", "mailbox"), ("all@rita.go.tz", "list")}
    assert r.json()["member_count"] == 4  # juma was already a member
    r = cli("mail", "list-group", "remove-members", "ict@rita.go.tz", "consultant@example.org", "--yes", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "Consultant@example.org" not in {m["address"] for m in r.json()["members"]}
    assert cli("mail", "list-group", "remove-members", "ict@rita.go.tz", "nobody@example.org", "--yes").exit_code == 3
    shown = cli("mail", "list-group", "show", "ict@rita.go.tz", role="helpdesk")
    assert shown.exit_code == 0 and "finance@rita.go.tz" in shown.stdout
    assert cli("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "Again").exit_code == 5
    assert cli("mail", "list-group", "create", "x@tra.go.tz", "-i", "TRA", "--name", "X", role="operator").exit_code == 4
    # a list's address is not a mailbox
    r = cli("mail", "show", "ict@rita.go.tz")
    assert r.exit_code == 3 and "distribution list" in r.stderr


def test_transfer_gives_a_new_address_and_keeps_the_old_as_alias(cli, backend, people):
    r = cli("mail", "update", "juma.mrisho@rita.go.tz", "--move-to", "TRA", "--department", "Customs", "-o", "json")
    assert r.exit_code == 0, r.stderr
    moved = r.json()
    assert (moved["address"], moved["institution"], moved["department"]) == ("juma.mrisho@tra.go.tz", "TRA", "Customs")
    assert moved["aliases"] == ["juma.mrisho@rita.go.tz"]
    assert claims(backend)["juma.mrisho@tra.go.tz"] == ("mailbox", True)
    assert claims(backend)["juma.mrisho@rita.go.tz"] == ("alias", True)
    with backend.read_sessions() as s:
        assert s.scalar(select(Mailbox.version).where(Mailbox.employee_number == "100000001")) == 2
    # RITA's operator may not move someone into TRA
    r = cli("mail", "update", "neema.kweka@rita.go.tz", "--move-to", "TRA", role="operator")
    assert r.exit_code == 4
    assert claims(backend)["neema.kweka@rita.go.tz"] == ("mailbox", True)
