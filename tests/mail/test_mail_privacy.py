"""mail's part of `egactl privacy`: a member of staff's report, erasure following the mailbox
lifecycle, and the retention of a purged mailbox's record — through the real commands."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egactl.server.privacy import is_pseudonym
from egactl_mail.server.models import MailAddress, Mailbox, MailListMember, MailNameToken
from tests.mail.domains import add_domains

RETENTION = 30
NUMBER = "111234567"


@pytest.fixture
def backend_settings():
    return {"mail.retention_days": RETENTION}


@pytest.fixture
def juma(cli, backend):
    add_domains(backend)
    for given, family, number in (("Juma", "Mrisho", NUMBER), ("Neema", "Kweka", "111234568")):
        r = cli("mail", "create", "-i", "RITA", "--given-name", given, "--family-name", family, "-e", number,
                "--title", "Registrar", "--department", "Registry")
        assert r.exit_code == 0, r.stderr
    assert cli("mail", "alias", "create", NUMBER, "registrar").exit_code == 0
    r = cli("mail", "list-group", "create", "staff@rita.go.tz", "-i", "RITA", "--name", "All RITA staff",
            "-m", "juma.mrisho@rita.go.tz", "-m", "neema.kweka@rita.go.tz")
    assert r.exit_code == 0, r.stderr
    return "juma.mrisho@rita.go.tz"


def mail_items(cli, subject=NUMBER, role="admin"):
    r = cli("privacy", "report", subject, "--case", "PDPA-1", "-o", "json", role=role)
    assert r.exit_code == 0, r.stderr
    items = r.json()["items"] if isinstance(r.json(), dict) else r.json()
    return [i for i in items if i["service"] == "mail"]


def stored(backend, number=None, address=None) -> Mailbox:
    with backend.read_sessions() as s:
        if number:
            return s.scalar(select(Mailbox).where(Mailbox.employee_number == number))
        return s.scalar(select(Mailbox).where(Mailbox.id == address))


def test_a_report_names_the_mailbox_its_aliases_and_list_memberships(cli, juma):
    items = mail_items(cli)
    assert [(i["kind"], i["reference"]) for i in items] == [
        ("mailbox", juma), ("alias", "registrar@rita.go.tz"), ("list membership", "staff@rita.go.tz")]
    data = items[0]["data"]
    assert (data["employee_number"], data["given_name"], data["family_name"], data["title"], data["department"],
            data["status"]) == (NUMBER, "Juma", "Mrisho", "Registrar", "Registry", "active")  # unmasked: owed to them
    assert items[2]["data"]["member"] == juma
    assert [i["reference"] for i in mail_items(cli, role="operator")] == [juma, "registrar@rita.go.tz",
                                                                           "staff@rita.go.tz"]
    assert mail_items(cli, role="operator_tra") == []  # another institution's staff: nothing
    assert mail_items(cli, subject="0754111222") == []  # mail holds no phone numbers


def test_a_mailbox_in_service_is_not_erased_it_is_ended_first(cli, backend, juma):
    r = cli("privacy", "erase", NUMBER, "--case", "PDPA-1", "--yes")
    assert r.exit_code == 5, r.stderr
    line = r.stderr.strip().splitlines()[0]
    assert "still in service" in line and f"egactl mail delete {juma}" in line and "egactl mail purge" in line
    m = stored(backend, number=NUMBER)
    assert (m.given_name, m.status) == ("Juma", "active")  # nothing changed, in any service


def test_erasing_a_deleted_mailbox_blanks_its_personal_fields(cli, backend, juma):
    assert cli("mail", "delete", juma, "--yes").exit_code == 0
    r = cli("privacy", "erase", NUMBER, "--case", "PDPA-1", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert stored(backend, number=NUMBER).given_name == "Juma"  # a dry run changes nothing
    r = cli("privacy", "erase", NUMBER, "--case", "PDPA-1", "--yes", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "deleted mailboxes' personal fields blanked" in r.stdout and "list memberships removed" in r.stdout
    with backend.read_sessions() as s:
        m = s.scalar(select(Mailbox).where(Mailbox.address == juma))
        assert (m.employee_number, m.given_name, m.family_name, m.preferred_name, m.title, m.department) == (None,) * 6
        assert m.status == "deleted"
        assert s.scalars(select(MailNameToken).where(MailNameToken.mailbox_id == m.id)).all() == []
        assert s.scalars(select(MailListMember).where(MailListMember.mailbox_id == m.id)).all() == []
        # its addresses stay claimed until the purge: not handed to someone else meanwhile
        assert sorted(s.scalars(select(MailAddress.address).where(MailAddress.mailbox_id == m.id))) == [
            juma, "registrar@rita.go.tz"]
    assert mail_items(cli) == []
    assert cli("find", "juma mrisho", "--service", "mail").exit_code == 3
    r = cli("mail", "undelete", juma)
    assert r.exit_code == 5 and "personal data was erased" in r.stderr
    assert cli("mail", "create", "-i", "RITA", "--given-name", "Juma", "--family-name", "Mrisho", "-e",
               NUMBER).exit_code == 0  # the person can be given a new mailbox


def test_erasure_takes_the_names_and_number_out_of_the_mailboxs_audit_entries_only(cli, backend, juma):
    import json

    from egactl.server.models import AuditEntry

    assert cli("mail", "delete", juma, "--yes").exit_code == 0
    assert cli("privacy", "erase", NUMBER, "--case", "PDPA-1", "--yes").exit_code == 0
    with backend.read_sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.resource_type != "privacy-subject")).all()
    text = json.dumps([[e.resource_id, e.reason, e.before, e.after] for e in entries], ensure_ascii=False)
    assert NUMBER not in text and "Mrisho" not in text and '"Juma"' not in text
    assert "Kweka" in text and "111234568" in text  # Neema's entries are hers, untouched


def test_retention_blanks_a_deleted_mailbox_at_purge_and_then_its_address(cli, backend, clock, juma):
    assert cli("mail", "delete", juma, "--yes").exit_code == 0
    shown = cli("privacy", "retention", "show", "-o", "json").json()
    [policy] = [p for p in shown if p["service"] == "mail"]
    assert (policy["name"], policy["days"], policy["due"]) == ("purged", 0, 0)
    clock.advance(days=RETENTION - 1)
    backend.run_workers()
    m = stored(backend, number=NUMBER)
    assert (m.status, m.given_name, m.address) == ("deleted", "Juma", juma)  # before its period: kept
    clock.advance(days=2)
    backend.run_workers()  # the mail worker purges: names, number, title, department go
    backend.run_workers()  # the privacy worker: the record's address becomes its pseudonym
    with backend.read_sessions() as s:
        m = s.scalar(select(Mailbox).where(Mailbox.status == "purged"))
        assert (m.employee_number, m.given_name, m.family_name, m.title, m.department) == (None,) * 5
        assert is_pseudonym(m.address) and m.retain_until is None
        assert s.scalars(select(MailNameToken).where(MailNameToken.mailbox_id == m.id)).all() == []
        assert s.scalar(select(MailAddress).where(MailAddress.address == juma)) is None
    assert cli("mail", "show", juma).exit_code == 3
    [policy] = [p for p in cli("privacy", "retention", "show", "-o", "json").json() if p["service"] == "mail"]
    assert policy["due"] == 0
    # counts stay: the institution still holds the purged mailbox's record
    r = cli("mail", "list", "-i", "RITA", "--state", "purged", "-o", "json")
    assert [x["address"] for x in r.json()] == [m.address]


def test_a_longer_period_after_the_purge_keeps_the_address_until_it_ends(cli, backend, clock, juma):
    backend.overrides["privacy.mail_purged_days"] = 10
    assert cli("mail", "delete", juma, "--yes").exit_code == 0
    clock.advance(days=RETENTION + 1)
    backend.run_workers()
    backend.run_workers()
    with backend.read_sessions() as s:
        assert s.scalar(select(Mailbox.address).where(Mailbox.status == "purged")) == juma
    assert cli("mail", "show", juma, "-o", "json").json()["status"] == "purged"
    clock.advance(days=10)
    [policy] = [p for p in cli("privacy", "retention", "show", "-o", "json").json() if p["service"] == "mail"]
    assert (policy["days"], policy["due"]) == (10, 1)
    with pytest.MonkeyPatch.context() as m:  # counted no further than the cap (SDK 2.6): past it, "at least"
        from egactl.server import pagination

        m.setattr(pagination, "COUNT_UP_TO", 0)
        [capped] = [p for p in cli("privacy", "retention", "show", "-o", "json").json() if p["service"] == "mail"]
        assert (capped["due"], capped["due_at_least"]) == (0, True)
    backend.run_workers()
    with backend.read_sessions() as s:
        assert is_pseudonym(s.scalar(select(Mailbox.address).where(Mailbox.status == "purged")))
