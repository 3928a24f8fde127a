"""Nobody gets what is not theirs: the help desk's view of the audit log, and what an
operator learns about another institution's staff from refusals and reconcile plans."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from egactl.server.models import AuditEntry
from egactl_mail.server.models import MailDomain

NUMBER = "+255754111222"


def test_the_help_desk_sees_opt_outs_in_the_audit_log_masked(cli, backend):
    r = cli("sms", "optout", "create", "0754111222", "-i", "RITA", "--reason", "Asha Said replied STOP",
            role="operator")
    assert r.exit_code == 0, r.stderr
    with backend.read_sessions() as s:
        stored = s.scalar(select(AuditEntry).where(AuditEntry.resource_type == "sms-optout"))
    assert stored.resource_id == f"RITA/{NUMBER}"  # the log itself keeps the truth

    admin = [e for e in cli("audit", "list", "-o", "json").json() if e["resource_type"] == "sms-optout"]
    assert admin[0]["resource_id"] == f"RITA/{NUMBER}" and admin[0]["reason"] == "Asha Said replied STOP"

    for fmt in ("json", "table", "csv"):
        r = cli("audit", "list", "-o", fmt, role="helpdesk")
        assert r.exit_code == 0, r.stderr
        assert "754111222" not in r.stdout and "111222" not in r.stdout.replace("***222", "")
        assert "Asha" not in r.stdout, fmt
    seen = [e for e in cli("audit", "list", "-o", "json", role="helpdesk").json() if e["resource_type"] == "sms-optout"]
    assert seen[0]["resource_id"] == "RITA/+255754***222"  # enough to look it up with the caller
    assert seen[0]["reason"] == "(hidden)" and seen[0]["before"] is None and seen[0]["after"] is None
    # A look-up by the number the caller gives still works, and still shows it masked.
    r = cli("audit", "list", "--resource", f"sms-optout/RITA/{NUMBER}", "-o", "json", role="helpdesk")
    assert [e["resource_id"] for e in r.json()] == ["RITA/+255754***222"]


def test_a_number_in_an_undeclared_field_is_masked_too(cli):
    assert cli("sms", "senders", "request", "RITAINFO", "-i", "RITA", "--purpose", "notices",
               role="operator").exit_code == 0
    assert cli("sms", "senders", "approve", "RITAINFO", "--note", "confirmed by phone with 0754111222").exit_code == 0
    entries = cli("audit", "list", "-o", "json", role="helpdesk").json()
    approved = [e for e in entries if e["action"] == "approve"]
    assert approved[0]["reason"] == "confirmed by phone with 0754***222"
    assert "0754111222" not in str(entries)


def test_every_history_built_on_the_audit_log_masks_alike(cli, backend):
    """The masking is the core's: a plugin's own history view gets it without asking."""
    from egactl.plugin import PersonalData
    from egactl.server import audit

    entry = {"resource_type": "sms-optout", "resource_id": "RITA/+255754111222", "reason": "x",
             "before": {"phone": NUMBER}, "after": None}
    masked = audit.mask_entry(entry, {"sms-optout": PersonalData("sms-optout", r"(?P<institution>[^/]+)/(?P<phone>.+)",
                                                                 reason=True)})
    assert masked["resource_id"] == "RITA/+255754***222" and masked["before"] is None
    hr = PersonalData("hr-record", r"(?P<institution>[A-Z-]+):(?P<employee_number>\d+)")
    assert audit.mask_resource_id("RITA:111234567", hr) == "RITA:******567"
    assert audit.mask_resource_id("garbage", hr) == "(hidden)"  # no match: hide it all


@pytest.fixture
def staff(cli, backend):
    with backend.write_sessions() as s:
        for code, domain in (("RITA", "rita.go.tz"), ("TRA", "tra.go.tz")):
            s.add(MailDomain(domain=domain, institution=code, naming_rule="given.family", is_primary=True,
                             created_at=backend.now()))
        s.commit()
    for inst, given, family, number, dept in (("RITA", "Juma", "Mrisho", "111234567", "ICT"),
                                              ("TRA", "Baraka", "Mwakyusa", "222234567", "Customs Enforcement")):
        r = cli("mail", "create", "-i", inst, "-g", given, "-f", family, "-e", number, "--department", dept)
        assert r.exit_code == 0, r.stderr


def test_a_refusal_does_not_tell_another_institution_where_someone_works(cli, staff):
    missing = cli("mail", "show", "999999999", role="operator_tra")
    for args in (("show", "111234567"), ("suspend", "111234567", "--yes"), ("quota", "set", "111234567", "5G")):
        r = cli("mail", *args, role="operator_tra")
        assert r.exit_code == missing.exit_code == 3, (args, r.stderr)
        assert "RITA" not in r.stderr and "rita" not in r.stderr and "may not" not in r.stderr, r.stderr
        assert r.stderr.replace("111234567", "N") == missing.stderr.replace("999999999", "N")
    # Their own staff, and admins, are unaffected.
    assert cli("mail", "show", "111234567", role="operator").exit_code == 0
    assert cli("mail", "show", "222234567").exit_code == 0


def test_a_reconcile_plan_does_not_show_another_institutions_staff_record(cli, staff, tmp_path):
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["employee_number", "institution", "given_name", "family_name", "department"])
        w.writeheader()
        w.writerow({"employee_number": "111234567", "institution": "RITA", "given_name": "Juma",
                    "family_name": "Mrisho", "department": "ICT"})
        # HR says TRA's Baraka moved to RITA: RITA's operator may not move him alone.
        w.writerow({"employee_number": "222234567", "institution": "RITA", "given_name": "Baraka",
                    "family_name": "Mwakyusa", "department": "Registry"})
    for fmt in ("json", "table", "csv"):
        r = cli("mail", "reconcile", "--roster", str(roster), "-i", "RITA", "-o", fmt, role="operator")
        assert r.exit_code == 0, r.stderr
        for secret in ("TRA", "tra.go.tz", "Customs", "baraka.mwakyusa"):
            assert secret not in r.stdout and secret not in r.stderr, (fmt, secret, r.stdout)
    plan = cli("mail", "reconcile", "--roster", str(roster), "-i", "RITA", "-o", "json", role="operator").json()
    [skip] = [a for a in plan["actions"] if a["employee_number"] == "222234567"]
    assert skip["action"] == "skip" and "another institution" in skip["reason"]
    assert skip["changes"]["institution"] == ["(another institution)", "RITA"]
    assert skip["changes"]["department"] == ["(hidden)", "Registry"]
    # An admin sees the whole record, as before.
    admin = cli("mail", "reconcile", "--roster", str(roster), "-i", "RITA", "-o", "json").json()
    [move] = [a for a in admin["actions"] if a["employee_number"] == "222234567"]
    assert move["changes"]["institution"] == ["TRA", "RITA"]


def test_a_number_in_local_format_is_masked_like_any_other():
    """A GovNet contact may be stored as 0754…: masking kept all ten digits of it."""
    from egactl.server.security import mask_phone

    assert mask_phone("+255754111222") == "+255754***222"
    assert mask_phone("0754111222") == "0754***222"
    assert mask_phone("0222111333") == "0222***333"  # a landline: still three digits hidden
