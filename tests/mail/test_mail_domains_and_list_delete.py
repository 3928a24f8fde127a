"""mail domains update/delete and mail list-group delete, through the commands and the real backend."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_mail.server.models import MailAddress, Mailbox, MailDomain, MailList, MailListMember


@pytest.fixture
def world(cli, backend):
    """RITA with two domains (rita.go.tz primary) and two people; TRA with one domain and one person;
    ARUSHA-CC with an unused domain."""
    for args in (("rita.go.tz", "-i", "RITA"), ("rita.ac.tz", "-i", "RITA"), ("tra.go.tz", "-i", "TRA"),
                 ("arushacc.go.tz", "-i", "ARUSHA-CC")):
        r = cli("mail", "domains", "create", *args)
        assert r.exit_code == 0, r.stderr
    for inst, given, family, number in (("RITA", "Juma", "Mrisho", "100000001"), ("RITA", "Neema", "Kweka", "100000002"),
                                        ("TRA", "Baraka", "Mwakyusa", "200000001")):
        r = cli("mail", "create", "-i", inst, "--given-name", given, "--family-name", family, "-e", number)
        assert r.exit_code == 0, r.stderr


def domains(backend) -> dict[str, tuple]:
    with backend.read_sessions() as s:
        return {d.domain: (d.institution, d.naming_rule, d.is_primary, d.version) for d in s.scalars(select(MailDomain))}


def audit(backend, resource_type: str) -> list[tuple[str, str]]:
    with backend.read_sessions() as s:
        return [(e.action, e.resource_id) for e in s.scalars(select(AuditEntry).where(
            AuditEntry.resource_type == resource_type).order_by(AuditEntry.id))]


# -- mail domains update ----------------------------------------------------------------------


def test_update_changes_the_naming_rule_for_new_addresses_only(cli, backend, world):
    r = cli("mail", "domains", "update", "rita.go.tz", "--naming-rule", "g.family")
    assert r.exit_code == 0, r.stderr
    assert "naming rule given.family → g.family" in r.stderr and "existing addresses keep their names" in r.stderr
    assert domains(backend)["rita.go.tz"] == ("RITA", "g.family", True, 2)
    assert audit(backend, "mail-domain")[-1] == ("update", "rita.go.tz")
    # existing addresses are not renamed; a new mailbox gets the new rule
    assert cli("mail", "show", "juma.mrisho@rita.go.tz").exit_code == 0
    r = cli("mail", "create", "-i", "RITA", "--given-name", "Asha", "--family-name", "Said", "-e", "100000003",
            "-o", "json")
    assert r.json()["address"] == "a.said@rita.go.tz"


def test_update_primary_moves_the_role_and_new_mailboxes_follow(cli, backend, world):
    r = cli("mail", "domains", "update", "rita.ac.tz", "--primary", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["primary"] is True
    stored = domains(backend)
    assert stored["rita.ac.tz"][2] is True and stored["rita.go.tz"][2] is False
    assert stored["rita.go.tz"][3] == 2  # the demoted domain changed too: its ETag is new
    assert stored["tra.go.tz"][2] is True  # other institutions untouched
    r = cli("mail", "create", "-i", "RITA", "--given-name", "Asha", "--family-name", "Said", "-e", "100000003",
            "-o", "json")
    assert r.json()["address"] == "asha.said@rita.ac.tz"


def test_update_refusals(cli, backend, world):
    before = domains(backend)
    r = cli("mail", "domains", "update", "rita.go.tz", "--naming-rule", "family_given")
    assert r.exit_code == 2 and "--naming-rule" in r.stderr
    r = cli("mail", "domains", "update", "rita.go.tz")
    assert r.exit_code == 2 and "nothing to change" in r.stderr
    r = cli("mail", "domains", "update", "nowhere.go.tz", "--naming-rule", "g.family")
    assert r.exit_code == 3 and "nowhere.go.tz" in r.stderr
    for role in ("helpdesk", "operator", "operator_tra"):  # only e-GA (admin) changes domains
        r = cli("mail", "domains", "update", "rita.go.tz", "--naming-rule", "g.family", role=role)
        assert r.exit_code == 4, (role, r.stderr)
    # the backend validates the rule too (a raw API call)
    r = cli("api", "PATCH", "/api/v1/mail/domains/rita.go.tz", "--family-name", "naming_rule=given_family")
    assert r.exit_code == 2
    assert domains(backend) == before


def test_update_dry_run_is_judged_by_the_backend_and_changes_nothing(cli, backend, world):
    before = domains(backend)
    r = cli("mail", "domains", "update", "rita.ac.tz", "--primary", "--naming-rule", "family.given", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "dry run: would update rita.ac.tz" in r.stderr and "nothing was changed" in r.stderr
    assert cli("mail", "domains", "update", "rita.ac.tz", "--primary", "--dry-run", role="operator").exit_code == 4
    assert domains(backend) == before
    assert audit(backend, "mail-domain") == [("create", d) for d in ("rita.go.tz", "rita.ac.tz", "tra.go.tz",
                                                                      "arushacc.go.tz")]


def test_update_with_a_stale_etag_is_refused(cli, backend, world):
    r = cli("api", "PATCH", "/api/v1/mail/domains/rita.ac.tz", "-F", "primary=true", "-H", 'If-Match: "v7"')
    assert r.exit_code == 5
    assert domains(backend)["rita.ac.tz"][2] is False


# -- mail domains delete ----------------------------------------------------------------------


def test_delete_an_unused_domain(cli, backend, world):
    r = cli("mail", "domains", "delete", "arushacc.go.tz")
    assert r.exit_code == 2 and "--yes" in r.stderr  # a script must say --yes
    r = cli("mail", "domains", "delete", "arushacc.go.tz", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "arushacc.go.tz" not in domains(backend)
    assert audit(backend, "mail-domain")[-1] == ("delete", "arushacc.go.tz")
    # a non-primary domain of an institution with others
    assert cli("mail", "domains", "delete", "rita.ac.tz", "--yes").exit_code == 0
    assert set(domains(backend)) == {"rita.go.tz", "tra.go.tz"}
    assert cli("mail", "domains", "show", "rita.ac.tz").exit_code == 3


def test_delete_is_refused_while_addresses_use_the_domain(cli, backend, world):
    assert cli("mail", "alias", "create", "juma.mrisho@rita.go.tz", "registrar").exit_code == 0
    assert cli("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "ICT").exit_code == 0
    before = domains(backend)
    r = cli("mail", "domains", "delete", "rita.go.tz", "--yes")
    assert r.exit_code == 5
    assert r.stderr.strip().splitlines() == [
        "error: mail domain rita.go.tz is in use (2 mailboxes, 1 alias, 1 list); delete or move them first "
        "(a deleted mailbox keeps its address until it is purged)"]
    assert cli("mail", "domains", "delete", "rita.go.tz", "--dry-run").exit_code == 5
    r = cli("mail", "domains", "delete", "tra.go.tz", "--yes")
    assert r.exit_code == 5 and "(1 mailbox)" in r.stderr
    # a deleted mailbox still holds its address (retained until purge)
    assert cli("mail", "delete", "baraka.mwakyusa@tra.go.tz", "--yes").exit_code == 0
    r = cli("mail", "domains", "delete", "tra.go.tz", "--yes")
    assert r.exit_code == 5 and "(1 mailbox)" in r.stderr
    assert domains(backend) == before


def test_delete_is_refused_for_a_primary_domain_while_the_institution_has_others(cli, backend, world):
    assert cli("mail", "domains", "create", "arusha.go.tz", "-i", "ARUSHA-CC", "--primary").exit_code == 0
    before = domains(backend)
    r = cli("mail", "domains", "delete", "arusha.go.tz", "--yes")
    assert r.exit_code == 5
    assert "primary domain of ARUSHA-CC" in r.stderr and "mail domains update arushacc.go.tz --primary" in r.stderr
    assert domains(backend) == before
    # the other one is not primary: it may go, and then the last one too
    assert cli("mail", "domains", "delete", "arushacc.go.tz", "--yes").exit_code == 0
    assert cli("mail", "domains", "delete", "arusha.go.tz", "--yes").exit_code == 0
    assert cli("mail", "domains", "list", "-i", "ARUSHA-CC", "-o", "json").json() == []


def test_delete_refusals_and_dry_run(cli, backend, world):
    before = domains(backend)
    assert cli("mail", "domains", "delete", "nowhere.go.tz", "--yes").exit_code == 3
    for role in ("helpdesk", "operator", "operator_tra"):
        r = cli("mail", "domains", "delete", "arushacc.go.tz", "--yes", role=role)
        assert r.exit_code == 4, (role, r.stderr)
        assert cli("mail", "domains", "delete", "arushacc.go.tz", "--dry-run", role=role).exit_code == 4
    r = cli("mail", "domains", "delete", "arushacc.go.tz", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "dry run: would delete arushacc.go.tz of ARUSHA-CC; nothing was changed" in r.stderr
    assert domains(backend) == before
    assert not [a for a in audit(backend, "mail-domain") if a[0] == "delete"]


# -- mail list-group delete -------------------------------------------------------------------


@pytest.fixture
def lists(cli, world):
    for args in (("ict@rita.go.tz", "--name", "ICT", "-m", "juma.mrisho@rita.go.tz", "-m", "someone@example.org"),
                 ("all@rita.go.tz", "--name", "All", "-m", "neema.kweka@rita.go.tz"),
                 ("heads@rita.go.tz", "--name", "Heads")):
        assert cli("mail", "list-group", "create", *args, "-i", "RITA").exit_code == 0
    for parent in ("all@rita.go.tz", "heads@rita.go.tz"):
        assert cli("mail", "list-group", "add-members", parent, "ict@rita.go.tz").exit_code == 0
    assert cli("mail", "list-group", "create", "customs@tra.go.tz", "-i", "TRA", "--name", "Customs").exit_code == 0


def stored_lists(backend) -> dict[str, tuple[int, list[str]]]:
    with backend.read_sessions() as s:
        out = {}
        for lst in s.scalars(select(MailList)):
            members = sorted(s.scalars(select(MailListMember.member).where(MailListMember.list_id == lst.id)))
            out[lst.address] = (lst.version, members)
        return out


def claimed(backend, address: str) -> bool:
    with backend.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(MailAddress).where(MailAddress.address == address)) > 0


def test_list_delete_takes_members_and_memberships_with_it(cli, backend, lists):
    before = stored_lists(backend)
    r = cli("mail", "list-group", "delete", "ict@rita.go.tz", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "Deleted list ict@rita.go.tz (2 member(s)); it is no longer a member of all@rita.go.tz, heads@rita.go.tz" \
        in r.stderr
    after = stored_lists(backend)
    assert "ict@rita.go.tz" not in after
    assert after["all@rita.go.tz"] == (before["all@rita.go.tz"][0] + 1, ["neema.kweka@rita.go.tz"])
    assert after["heads@rita.go.tz"] == (before["heads@rita.go.tz"][0] + 1, [])
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(MailListMember).where(
            MailListMember.member == "someone@example.org")) == 0
    assert not claimed(backend, "ict@rita.go.tz")  # the address is free at once
    assert cli("mail", "alias", "create", "juma.mrisho@rita.go.tz", "ict").exit_code == 0
    assert audit(backend, "mail-list")[-3:] == [("remove-members", "all@rita.go.tz"),
                                                ("remove-members", "heads@rita.go.tz"), ("delete", "ict@rita.go.tz")]
    assert cli("mail", "list-group", "show", "ict@rita.go.tz").exit_code == 3


def test_list_delete_json_says_what_went(cli, backend, lists):
    r = cli("mail", "list-group", "delete", "ict@rita.go.tz", "--yes", "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    gone = r.json()
    assert gone["address"] == "ict@rita.go.tz" and gone["member_count"] == 2
    assert gone["member_of"] == ["all@rita.go.tz", "heads@rita.go.tz"]


def test_list_delete_refusals_and_dry_run(cli, backend, lists):
    before = stored_lists(backend)
    r = cli("mail", "list-group", "delete", "ict@rita.go.tz")
    assert r.exit_code == 2 and "--yes" in r.stderr
    assert cli("mail", "list-group", "delete", "nothing@rita.go.tz", "--yes").exit_code == 3
    r = cli("mail", "list-group", "delete", "juma.mrisho@rita.go.tz", "--yes")  # a mailbox, not a list
    assert r.exit_code == 3
    for role in ("helpdesk", "operator_tra"):
        r = cli("mail", "list-group", "delete", "ict@rita.go.tz", "--yes", role=role)
        assert r.exit_code == 4, (role, r.stderr)
        assert cli("mail", "list-group", "delete", "ict@rita.go.tz", "--dry-run", role=role).exit_code == 4
    assert cli("mail", "list-group", "delete", "customs@tra.go.tz", "--yes", role="operator").exit_code == 4
    r = cli("mail", "list-group", "delete", "ict@rita.go.tz", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert ("dry run: would delete list ict@rita.go.tz with 2 member(s), and take it out of all@rita.go.tz, "
            "heads@rita.go.tz; nothing was changed") in r.stderr
    assert stored_lists(backend) == before and claimed(backend, "ict@rita.go.tz")
    assert ("delete", "ict@rita.go.tz") not in audit(backend, "mail-list")


def test_list_delete_with_a_stale_etag_is_refused(cli, backend, lists):
    r = cli("api", "DELETE", "/api/v1/mail/lists/ict@rita.go.tz", "-H", 'If-Match: "v99"')
    assert r.exit_code == 5
    assert "ict@rita.go.tz" in stored_lists(backend)


# -- acting on what was read ------------------------------------------------------------------


@pytest.fixture
def meanwhile(monkeypatch):
    """``meanwhile(change)``: ``change()`` runs right after the command's read with ETag, as if
    another administrator acted between what the command read and what it sends."""
    from egactl.api_client import ApiClient

    pending = []
    original = ApiClient.get_with_etag

    def read_then_change(self, path):
        out = original(self, path)
        while pending:
            pending.pop()()
        return out

    monkeypatch.setattr(ApiClient, "get_with_etag", read_then_change)
    return pending.append


def test_list_delete_acts_on_the_list_as_shown(cli, backend, lists, meanwhile):
    meanwhile(lambda: cli("mail", "list-group", "add-members", "ict@rita.go.tz", "neema.kweka@rita.go.tz"))
    r = cli("mail", "list-group", "delete", "ict@rita.go.tz", "--yes")
    assert r.exit_code == 5 and "changed since you read it" in r.stderr
    assert "neema.kweka@rita.go.tz" in stored_lists(backend)["ict@rita.go.tz"][1]


def test_domain_update_acts_on_the_domain_as_read(cli, backend, world, meanwhile):
    meanwhile(lambda: cli("mail", "domains", "update", "rita.go.tz", "--naming-rule", "family.given"))
    r = cli("mail", "domains", "update", "rita.go.tz", "--naming-rule", "g.family")
    assert r.exit_code == 5 and "changed since you read it" in r.stderr
    assert domains(backend)["rita.go.tz"][1] == "family.given"


# -- re-running a create ----------------------------------------------------------------------


def test_domain_create_again_is_exists_and_other_values_are_a_conflict(cli, backend, world):
    before = domains(backend)
    r = cli("mail", "domains", "create", "rita.go.tz", "-i", "RITA")
    assert r.exit_code == 0, r.stderr
    assert "rita.go.tz exists (RITA, given.family, primary); nothing changed" in r.stderr
    r = cli("mail", "domains", "create", "rita.go.tz", "-i", "RITA", "--naming-rule", "given.family", "--primary",
            "-o", "json")
    assert r.exit_code == 0 and r.json()["domain"] == "rita.go.tz"
    r = cli("mail", "domains", "create", "rita.go.tz", "-i", "RITA", "--naming-rule", "g.family")
    assert r.exit_code == 5 and "already exists (naming rule given.family)" in r.stderr
    assert "mail domains update rita.go.tz" in r.stderr
    r = cli("mail", "domains", "create", "rita.ac.tz", "-i", "RITA", "--primary")
    assert r.exit_code == 5 and "not primary" in r.stderr
    r = cli("mail", "domains", "create", "rita.go.tz", "-i", "TRA")
    assert r.exit_code == 5 and "already exists (institution RITA)" in r.stderr
    assert cli("mail", "domains", "create", "rita.go.tz", "-i", "RITA", role="operator").exit_code == 4
    assert domains(backend) == before
    assert [a for a in audit(backend, "mail-domain") if a[1] == "rita.go.tz"] == [("create", "rita.go.tz")]
