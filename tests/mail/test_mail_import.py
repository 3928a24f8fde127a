"""mail import: bulk provisioning from a staff CSV through the core's bulk machinery."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import func, select

from egactl_mail.server.models import Mailbox, MailDomain

HEADER = "employee_number,given_name,family_name,department,title\n"
STAFF = (
    "111000001,Juma Hassan,Mrisho,ICT,Officer\n"
    "111000002,Juma,Mrisho,Finance,Accountant\n"
    "111000003,Zuhura,Ng'wanakilala,ICT,\n"
    "111000004,José,Müller-Lüdenscheidt,Legal,Advocate\n"
    "111000005,Anna Maria,Mwanga Kilima,HR,\n"
)


@pytest.fixture
def domains(backend):
    with backend.write_sessions() as s:
        s.add(MailDomain(domain="rita.go.tz", institution="RITA", naming_rule="given.family", is_primary=True,
                         created_at=backend.now()))
        s.commit()


def count(backend) -> int:
    with backend.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(Mailbox))


def write(tmp_path, text, name="staff.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def results(path):
    with open(path, newline="") as fh:
        return {int(r["line"]): r for r in csv.DictReader(fh)}


def test_import_creates_then_a_rerun_counts_existing_as_done(cli, backend, domains, tmp_path):
    staff = write(tmp_path, HEADER + STAFF)
    out = tmp_path / "results.csv"
    r = cli("mail", "import", str(staff), "-i", "RITA", "--results", str(out), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["statuses"] == {"created": 5}
    rows = results(out)
    assert [rows[n]["id"] for n in range(2, 7)] == [
        "juma.mrisho@rita.go.tz", "juma.mrisho2@rita.go.tz", "zuhura.ngwanakilala@rita.go.tz",
        "jose.muller-ludenscheidt@rita.go.tz", "anna.mwanga-kilima@rita.go.tz"]
    with backend.read_sessions() as s:
        m = s.scalar(select(Mailbox).where(Mailbox.employee_number == "111000001"))
    assert (m.department, m.title, m.institution, m.status) == ("ICT", "Officer", "RITA", "active")
    # The same file again (a finished job starts afresh): nothing new, nothing failed.
    again = cli("mail", "import", str(staff), "-i", "RITA", "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["statuses"] == {"exists": 5}
    assert count(backend) == 5


def test_existing_mailbox_identical_is_done_different_is_failed(cli, backend, domains, tmp_path):
    r = cli("mail", "create", "-i", "RITA", "--given-name", "Juma Hassan", "--family-name", "Mrisho", "-e", "111000001",
            "--department", "ICT", "--title", "Officer")
    assert r.exit_code == 0, r.stderr
    r = cli("mail", "create", "-i", "RITA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "111000002", "--department", "HR")
    assert r.exit_code == 0, r.stderr
    staff = write(tmp_path, HEADER + STAFF)
    out = tmp_path / "results.jsonl"
    r = cli("mail", "import", str(staff), "-i", "RITA", "--results", str(out), "-o", "json")
    assert r.exit_code == 6, r.stderr
    assert r.json()["statuses"] == {"exists": 1, "failed": 1, "created": 3}
    lines = {row["line"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert lines[2]["status"] == "exists" and lines[2]["id"] == "juma.mrisho@rita.go.tz"
    assert lines[3]["status"] == "failed"
    assert "department 'HR' ≠ 'Finance'" in lines[3]["error"]
    assert count(backend) == 5


@pytest.mark.parametrize("content, encoding, message", [
    ("employee_number,given_name\n111000001,Juma\n", "utf-8", "missing column family_name"),
    (HEADER + "111000001,Jos\u00e9,M\u00fcller,ICT,\n", "latin-1", "not UTF-8"),
    ("", "utf-8", "the file is empty"),
    ("\n\n", "utf-8", "the file is empty"),
])
def test_bad_files_exit_2_with_one_line_and_create_nothing(cli, backend, domains, tmp_path, content, encoding, message):
    staff = write(tmp_path, content, encoding=encoding)
    r = cli("mail", "import", str(staff), "-i", "RITA")
    assert r.exit_code == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert count(backend) == 0


def test_bad_rows_one_line_each_and_nothing_created(cli, backend, domains, tmp_path):
    staff = write(tmp_path, HEADER + STAFF
                  + "111000002,Asha,Said,ICT,\n"          # line 7: duplicate employee number (of line 3)
                  + "12,Baraka,Mwita,ICT,\n"               # line 8: employee number too short
                  + "111000009,محمد,Ali,ICT,\n"            # line 9: no ASCII form, no address column
                  + "111000010,,Kweka,ICT,\n")             # line 10: no given name
    r = cli("mail", "import", str(staff), "-i", "RITA")
    assert r.exit_code == 2
    problems = [line for line in r.stderr.splitlines() if line.startswith("staff.csv: line")]
    assert [p.split(":")[1].strip() for p in problems] == ["line 7", "line 8", "line 9", "line 10"]
    assert "duplicate of line 3" in problems[0] and "111000002" in problems[0]
    assert "4 invalid rows of 9; nothing was sent" in r.stderr
    assert count(backend) == 0
    # --skip-invalid sends the valid ones
    r = cli("mail", "import", str(staff), "-i", "RITA", "--skip-invalid", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["statuses"] == {"created": 5}


def test_institution_column_and_preflight(cli, backend, domains, tmp_path):
    staff = write(tmp_path, "employee_number,institution,given_name,family_name\n"
                            "111000001,RITA,Juma,Mrisho\n111000002,TRA,Asha,Said\n")
    # no --institution needed; TRA has no mail domain: one clear error, nothing created
    r = cli("mail", "import", str(staff))
    assert r.exit_code == 2 and "TRA has no mail domain" in r.stderr
    assert count(backend) == 0
    # an operator of RITA may not import TRA's staff: refused once, not per row
    r = cli("mail", "import", str(staff), role="operator")
    assert r.exit_code == 4
    no_column = write(tmp_path, "employee_number,given_name,family_name\n111000001,Juma,Mrisho\n", name="b.csv")
    r = cli("mail", "import", str(no_column))
    assert r.exit_code == 2 and "--institution" in r.stderr


def test_dry_run_validates_and_sends_nothing(cli, backend, domains, tmp_path):
    staff = write(tmp_path, HEADER + STAFF)
    r = cli("mail", "import", str(staff), "-i", "RITA", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "5 valid row(s) would be sent" in r.stderr
    assert count(backend) == 0
