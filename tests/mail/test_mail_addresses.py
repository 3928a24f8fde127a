"""mail: generated addresses and collisions with every kind of claimed address, through the real backend."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from egactl_mail.server.models import MailAddress, Mailbox, MailDomain


@pytest.fixture
def domains(backend):
    with backend.write_sessions() as s:
        for code, domain in (("RITA", "rita.go.tz"), ("TRA", "tra.go.tz")):
            s.add(MailDomain(domain=domain, institution=code, naming_rule="given.family", is_primary=True,
                             created_at=backend.now()))
        s.commit()


def create(cli, given, family, number, *extra, role="admin", institution="RITA"):
    return cli("mail", "create", "-i", institution, "--given-name", given, "--family-name", family, "-e", number, *extra, "-o", "json",
               role=role)


def claims(backend):
    with backend.read_sessions() as s:
        return {a.address: a.kind for a in s.scalars(select(MailAddress))}


def test_collisions_with_mailboxes_aliases_lists_and_retained_addresses(cli, backend, domains):
    first = create(cli, "Juma", "Mrisho", "100000001")
    assert first.exit_code == 0, first.stderr
    assert first.json()["address"] == "juma.mrisho@rita.go.tz"
    assert create(cli, "Juma Hassan", "Mrisho", "100000002").json()["address"] == "juma.mrisho2@rita.go.tz"
    # an alias and a list take the next two names; a deleted mailbox keeps its address
    assert cli("mail", "alias", "create", "100000001", "juma.mrisho3").exit_code == 0
    r = cli("mail", "list-group", "create", "juma.mrisho4@rita.go.tz", "-i", "RITA", "--name", "Not a person")
    assert r.exit_code == 0, r.stderr
    assert cli("mail", "delete", "100000002", "--yes").exit_code == 0
    fifth = create(cli, "Juma", "Mrisho", "100000005")
    assert fifth.exit_code == 0, fifth.stderr
    assert fifth.json()["address"] == "juma.mrisho5@rita.go.tz"
    assert claims(backend) == {
        "juma.mrisho@rita.go.tz": "mailbox", "juma.mrisho2@rita.go.tz": "mailbox",
        "juma.mrisho3@rita.go.tz": "alias", "juma.mrisho4@rita.go.tz": "list", "juma.mrisho5@rita.go.tz": "mailbox",
    }
    # an explicit --address that is taken, by any kind of claim, is a conflict (exit 5)
    for taken in ("juma.mrisho", "juma.mrisho2", "juma.mrisho3", "juma.mrisho4"):
        r = create(cli, "Juma", "Mrisho", "100000009", "--address", f"{taken}@rita.go.tz")
        assert r.exit_code == 5, (taken, r.stderr)
        assert "already taken" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Mailbox)) == 3


def test_another_domain_is_another_namespace(cli, domains):
    assert create(cli, "Juma", "Mrisho", "100000001").json()["address"] == "juma.mrisho@rita.go.tz"
    r = create(cli, "Juma", "Mrisho", "100000002", institution="TRA")
    assert r.json()["address"] == "juma.mrisho@tra.go.tz"


@pytest.mark.parametrize("given, family, address", [
    ("Zuhura", "Ng'wanakilala", "zuhura.ngwanakilala@rita.go.tz"),
    ("Anna-Maria", "Mwanga Kilima", "anna-maria.mwanga-kilima@rita.go.tz"),
    ("José Ñandú", "Müller-Łukasz", "jose.muller-lukasz@rita.go.tz"),
])
def test_names_through_the_command(cli, backend, domains, given, family, address):
    r = create(cli, given, family, "100000001")
    assert r.exit_code == 0, r.stderr
    assert r.json()["address"] == address
    assert r.json()["given_name"] == given
    assert address in claims(backend)


def test_a_name_without_an_address_is_refused_before_sending(cli, backend, domains):
    r = create(cli, "محمد", "Ali", "100000001")
    assert r.exit_code == 2
    assert "--address" in r.stderr
    r = create(cli, "محمد", "Ali", "100000001", "--address", "mohamed.ali@rita.go.tz")
    assert r.exit_code == 0, r.stderr
    assert claims(backend) == {"mohamed.ali@rita.go.tz": "mailbox"}


def test_one_employee_one_mailbox(cli, domains):
    assert create(cli, "Juma", "Mrisho", "100000001").exit_code == 0
    r = create(cli, "Juma", "Mrisho", "100000001")  # the same again: exists (exit 0)
    assert r.exit_code == 0 and r.json()["address"] == "juma.mrisho@rita.go.tz"
    r = create(cli, "Juma", "Mrisho", "100000001", "--department", "HR")
    assert r.exit_code == 5
    assert "already has juma.mrisho@rita.go.tz" in r.stderr


def test_dry_run_shows_the_address_it_would_get_and_stores_nothing(cli, backend, domains):
    create(cli, "Juma", "Mrisho", "100000001")
    r = cli("mail", "create", "-i", "RITA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "100000002", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["address"] == "juma.mrisho2@rita.go.tz"
    assert set(claims(backend)) == {"juma.mrisho@rita.go.tz"}


def test_the_database_refuses_a_second_claim(backend, domains):
    """Uniqueness is the database's: even code that skipped every check could not claim twice."""
    now = backend.now()
    with backend.write_sessions() as s:
        for _ in range(2):
            s.add(MailAddress(address="x@rita.go.tz", local_part="x", domain="rita.go.tz", stem="x", kind="alias",
                              institution="RITA", created_at=now))
        with pytest.raises(IntegrityError):
            s.flush()


def test_domains_add_and_naming_rule(cli, backend):
    r = cli("mail", "domains", "create", "UDOM.ac.tz", "-i", "UDOM", "--naming-rule", "g.family", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json() == {**r.json(), "domain": "udom.ac.tz", "primary": True, "naming_rule": "g.family"}
    assert cli("mail", "domains", "create", "udom.ac.tz", "-i", "UDOM").exit_code == 0  # exists
    assert cli("mail", "domains", "create", "udom.ac.tz", "-i", "UDOM", "--naming-rule", "given.family").exit_code == 5
    assert cli("mail", "domains", "create", "rita.go.tz", "-i", "RITA", role="operator").exit_code == 4
    assert cli("mail", "domains", "create", "not a domain", "-i", "UDOM").exit_code == 2
    created = create(cli, "Juma", "Mrisho", "100000001", institution="UDOM")
    assert created.json()["address"] == "j.mrisho@udom.ac.tz"
    r = cli("mail", "domains", "list", "-i", "UDOM", "-o", "json")
    assert [d["domain"] for d in r.json()] == ["udom.ac.tz"]


def test_no_domain_is_a_clear_error(cli):
    r = create(cli, "Juma", "Mrisho", "100000001", institution="NIDA")
    assert r.exit_code == 2
    assert "NIDA has no mail domain" in r.stderr and "domains create" in r.stderr


def test_a_claim_made_meanwhile_is_a_conflict_judged_by_the_database(cli, backend, domains, monkeypatch):
    """What the checks read first can be out of date by the time of the insert (another
    request committed meanwhile): the unique indexes decide, and the answer is the same
    one-line 409 (exit 5) as the check's, nothing stored, never a server error."""
    from egactl_mail.server import service
    from egactl_mail.server.addresses import Allocator

    assert create(cli, "Juma", "Mrisho", "100000001").exit_code == 0
    assert cli("mail", "alias", "create", "100000001", "jm").exit_code == 0
    assert cli("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "ICT").exit_code == 0
    before = claims(backend)
    # The checks see nothing, as a request that read before another's commit would.
    monkeypatch.setattr(Allocator, "is_taken", lambda self, local, domain: False)
    monkeypatch.setattr(service, "existing_for", lambda numbers: {})
    for args, problem in (
            # (the same alias on the same mailbox is "exists"; a list's address is another's claim)
            (("alias", "create", "100000001", "ict@rita.go.tz"), "address ict@rita.go.tz is already taken"),
            (("list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "Again"),
             "address ict@rita.go.tz is already taken"),
            (("create", "-i", "TRA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "100000001"),
             "employee 100000001 already has a mailbox")):
        r = cli("mail", *args)
        assert r.exit_code == 5, (args, r.stderr)
        assert r.stderr.strip().splitlines() == [f"error: {problem}"]
    assert claims(backend) == before
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Mailbox)) == 1
