"""A data subject's request across the services, through the real commands: a citizen known by a
phone number (SMS messages, an opt-out, a contact group, a GovNet site contact, the audit log) and a
member of staff known by an employee number (a mailbox). The report finds every item; after the
erasure a second report finds no personal value, only pseudonyms, and the audit log holds no
personal value from either operation — nor from before."""

from __future__ import annotations

import json

from sqlalchemy import select

from egactl.server.models import AuditEntry

PHONE, NATIONAL = "+255754111222", "0754111222"
PERSONAL = ("754111222", "Asha Said", "asha.said@rita.go.tz", "Habari Asha")


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def seed(cli):
    for code in ("RITA", "TRA"):
        ok(cli("sms", "senders", "request", code, "-i", code, role="operator" if code == "RITA" else "admin"))
        ok(cli("sms", "senders", "approve", code))
    ok(cli("sms", "send", "--to", NATIONAL, "Habari Asha, cheti chako cha kuzaliwa kiko tayari.", "-i", "RITA"))
    ok(cli("sms", "optout", "create", NATIONAL, "-i", "TRA", "--reason", "replied STOP"))
    ok(cli("sms", "group", "create", "wazazi", "-i", "RITA"))
    ok(cli("sms", "group", "add-members", "wazazi", NATIONAL, "--name", "Asha Said", "-i", "RITA"))
    ok(cli("govnet", "sites", "create", "RITA/dodoma-hq", "--region", "Dodoma", "--contact-name", "Asha Said",
           "--contact-phone", NATIONAL, "--contact-email", "asha.said@rita.go.tz"))


def report(cli, subject, case="PDPA-2026-001"):
    return ok(cli("privacy", "report", subject, "--case", case, "-o", "json")).json()


def audit_text(backend) -> str:
    with backend.read_sessions() as s:
        return json.dumps([[e.resource_id, e.reason, e.before, e.after] for e in s.scalars(select(AuditEntry))],
                          ensure_ascii=False)


def test_a_citizen_is_found_in_every_service_then_erased_everywhere(cli, backend):
    seed(cli)
    first = report(cli, NATIONAL)
    kinds = {(i["service"], i["kind"]) for i in first["items"]}
    assert {("sms", "opt-out"), ("sms", "group member"), ("govnet", "site contact"), ("audit", "audit entry")} <= kinds
    assert any(i["service"] == "sms" and i["kind"] == "message" for i in first["items"]), kinds
    assert all(first["counts"][s] >= 1 for s in ("sms", "govnet", "audit"))
    assert "Habari Asha" in json.dumps(first)  # the subject is owed their messages' texts

    erased = ok(cli("privacy", "erase", PHONE, "--case", "PDPA-2026-001", "--yes", "-o", "json")).json()
    assert set(erased["erased"]) >= {"sms", "govnet", "audit"}
    pseudonym = erased["subject"]

    second = json.dumps(report(cli, NATIONAL)["items"], ensure_ascii=False)  # (the answer repeats what was asked)
    for value in PERSONAL:
        assert value not in second, value
    assert pseudonym in second  # what is left is the opt-out, under the pseudonym
    logged = audit_text(backend)
    for value in PERSONAL:
        assert value not in logged, value
    r = cli("sms", "send", "--to", NATIONAL, "Habari", "-i", "TRA", "-o", "json")
    assert r.json()["skipped"]["opted_out"] == 1  # still opted out


def test_a_member_of_staff_is_reported_and_erased_once_the_mailbox_is_deleted(cli, backend):
    from tests.mail.domains import add_domains

    add_domains(backend)
    ok(cli("mail", "create", "-i", "RITA", "--given-name", "Neema", "--family-name", "Kweka", "-e", "111999888"))
    items = report(cli, "111999888")["items"]
    assert ("mail", "mailbox") in {(i["service"], i["kind"]) for i in items}
    ok(cli("mail", "delete", "neema.kweka@rita.go.tz", "--yes"))
    ok(cli("privacy", "erase", "111999888", "--case", "PDPA-2026-002", "--yes"))
    after = json.dumps(report(cli, "111999888", "PDPA-2026-002")["items"], ensure_ascii=False)
    assert "Kweka" not in after and "111999888" not in after
    logged = audit_text(backend)
    assert "111999888" not in logged and "Kweka" not in logged
