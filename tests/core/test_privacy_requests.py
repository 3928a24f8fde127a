"""egactl privacy, the core's part: reports and erasures audited without the personal value,
roles decided by the backend, the audit log's own entries, and the retention worker."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import zipfile

import pytest
from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin import BackendPart, Privacy, Retention
from egactl.server.models import AuditEntry

NUMBER = "+255754111222"


def _opt_out(cli, institution="RITA", role="admin"):
    r = cli("sms", "optout", "create", "0754111222", "-i", institution, "--reason", "replied STOP from 0754111222",
            role=role)
    assert r.exit_code == 0, r.stderr


def _entries(backend):
    with backend.read_sessions() as s:
        return s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def _no_personal_value(entries):
    text = json.dumps([[e.resource_id, e.reason, e.before, e.after] for e in entries])
    assert NUMBER not in text and "0754111222" not in text and "255754111222" not in text


def test_a_report_finds_the_audit_entries_naming_the_subject_and_is_audited_without_them(cli, backend):
    _opt_out(cli)
    r = cli("privacy", "report", "0754 111 222", "--case", "PDPA-7", "-o", "json")
    assert r.exit_code == 0, r.stderr
    audit_items = [i for i in r.json()["items"] if i["service"] == "audit"]
    assert audit_items and audit_items[0]["data"]["resource_id"] == f"RITA/{NUMBER}"
    [logged] = [e for e in _entries(backend) if e.action == "report"]
    assert (logged.resource_type, logged.reason, logged.actor) == ("privacy-subject", "case PDPA-7", "admin@ega.go.tz")
    assert logged.resource_id.startswith("~") and len(logged.resource_id) == 16
    _no_personal_value([logged])


def test_roles_are_decided_by_the_backend(cli):
    _opt_out(cli)
    r = cli("privacy", "report", "0754111222", "--case", "C1", role="helpdesk")
    assert r.exit_code == 4 and "read-only" in r.stderr
    r = cli("privacy", "report", "0754111222", "--case", "C1", role="operator_tra", )
    assert r.exit_code == 0, r.stderr
    assert "RITA" not in r.stdout  # TRA's operator does not see RITA's entries
    r = cli("privacy", "report", "0754111222", "--case", "C1", "-o", "json", role="operator")
    assert {i["institution"] for i in r.json()["items"]} == {"RITA"}  # the opt-out and its audit entry
    r = cli("privacy", "erase", "0754111222", "--case", "C1", "--yes", role="operator")
    assert r.exit_code == 4 and "only admins may erase" in r.stderr


def test_a_case_reference_is_required_and_a_subject_must_be_a_person(cli):
    r = cli("privacy", "report", "0754111222")
    assert r.exit_code == 2 and "--case" in r.stderr
    r = cli("privacy", "report", "not a number!", "--case", "C1")
    assert r.exit_code == 2
    assert "neither a phone number nor an employee number" in r.stderr


def test_erase_pseudonymises_the_audit_entries_and_a_dry_run_changes_nothing(cli, backend):
    _opt_out(cli)
    before = [(e.id, e.resource_id, e.reason) for e in _entries(backend)]
    r = cli("privacy", "erase", "0754111222", "--case", "PDPA-9", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "audit entries pseudonymised" in r.stdout and "dry run: nothing was changed" in r.stderr
    assert [(e.id, e.resource_id, e.reason) for e in _entries(backend)] == before

    r = cli("privacy", "erase", "0754111222", "--case", "PDPA-9")
    assert r.exit_code == 2 and "needs confirmation" in r.stderr  # a script must say --yes
    r = cli("privacy", "erase", "0754111222", "--case", "PDPA-9", "--yes", "-o", "json")
    assert r.exit_code == 0, r.stderr
    pseudonym = r.json()["subject"]
    assert pseudonym.startswith("~") and r.json()["erased"]["audit"] == {"audit entries pseudonymised": 1}
    entries = _entries(backend)
    _no_personal_value(entries)
    [opt_out] = [e for e in entries if e.resource_type == "sms-optout"]
    assert opt_out.resource_id == f"RITA/{pseudonym}" and opt_out.reason == f"replied STOP from {pseudonym}"
    again = cli("privacy", "report", "0754111222", "--case", "PDPA-9", "-o", "json").json()
    assert [i for i in again["items"] if i["service"] == "audit"] == []
    _no_personal_value(_entries(backend))


def test_the_export_is_private_and_safe_for_spreadsheets(cli, tmp_path):
    r = cli("sms", "optout", "create", "0754111222", "-i", "RITA", "--reason", "=HYPERLINK(\"http://x\") 0754111222")
    assert r.exit_code == 0, r.stderr
    out = tmp_path / "subject.zip"
    r = cli("privacy", "report", "0754111222", "--case", "C2", "--export", str(out))
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    with zipfile.ZipFile(out) as z:
        assert {"report.json", "audit.csv"} <= set(z.namelist())
        assert json.loads(z.read("report.json"))["case"] == "C2"
        csv_text = z.read("audit.csv").decode()
    assert "'=HYPERLINK" in csv_text or "\"'=HYPERLINK" in csv_text  # a formula is neutralised
    r = cli("privacy", "report", "0754111222", "--case", "C2", "--export", str(tmp_path / "x.txt"))
    assert r.exit_code == 2 and "must name a .zip file" in r.stderr


def test_retention_pseudonymises_what_is_past_its_period_and_audits_counts_only(cli, backend, clock):
    kept: dict[str, tuple[str, dt.datetime]] = {"a": ("+255754000001", clock()), "b": ("+255754000002", clock())}

    def due(session, cutoff):
        return sum(1 for v, at in kept.values() if at < cutoff and not v.startswith("~"))

    def expire(session, cutoff, pseudonym, limit):
        touched = 0
        for key, (value, at) in list(kept.items()):
            if at < cutoff and not value.startswith("~") and touched < limit:
                kept[key] = (pseudonym(value), at)
                touched += 1
        return touched

    backend.parts["demo"] = BackendPart(router=APIRouter(), privacy=Privacy(
        report=lambda subject: [], erase=lambda subject: {},
        retention=(Retention("numbers", "demo numbers", 30, "after sending", expire=expire, due=due),)))
    def demo_policy():  # the installed plugins' own classes are listed too
        return [p for p in cli("privacy", "retention", "show", "-o", "json").json() if p["service"] == "demo"]

    shown = demo_policy()
    assert shown == [{"service": "demo", "name": "numbers", "what": "demo numbers", "days": 30,
                      "after": "after sending", "due": 0, "due_at_least": False}]
    kept["b"] = ("+255754000002", clock() + dt.timedelta(days=20))
    clock.advance(days=31)
    assert demo_policy()[0]["due"] == 1
    with pytest.MonkeyPatch.context() as m:  # a due that counts past the cap is shown as "at least" the cap
        from egactl.server import pagination

        m.setattr(pagination, "COUNT_UP_TO", 0)
        assert (demo_policy()[0]["due"], demo_policy()[0]["due_at_least"]) == (0, True)
    assert backend.run_workers() >= 1
    assert kept["a"][0].startswith("~") and kept["b"][0] == "+255754000002"
    [expired] = [e for e in _entries(backend) if e.action == "expire"]
    assert (expired.resource_id, expired.after) == ("demo.numbers", {"rows": 1})
    _no_personal_value([expired])
    backend.overrides["privacy.demo_numbers_days"] = 5
    assert demo_policy()[0]["days"] == 5
    backend.run_workers()
    assert kept["b"][0].startswith("~")


def test_the_same_value_always_gives_the_same_pseudonym_and_another_server_key_another(backend, monkeypatch):
    from egactl.server.privacy import pseudonym

    with backend.write_sessions() as s:
        one, two, other = pseudonym(NUMBER, s), pseudonym(NUMBER, s), pseudonym("+255754111223", s)
        s.commit()
    assert one == two != other
    assert pseudonym(one, None) == one  # a pseudonym is never hashed again
    monkeypatch.setenv("EGACTL_PRIVACY_SECRET", "another key")
    with backend.write_sessions() as s:
        assert pseudonym(NUMBER, s) != one
