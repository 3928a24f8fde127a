"""Hostile CSV input is refused whole, with one clear line, by every import path.

Each malformed file goes through each command that reads a CSV (the real
command against the real backend). The fault sits after valid rows, so a
reader that streamed rows out as it went would have stored them: every table
of the backend must hold exactly what it held before, and stderr must be one
line naming the file and the line.

And what egactl writes as CSV/TSV never carries a live spreadsheet formula,
while names that would be one are refused where they enter.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Callable

import pytest
from sqlalchemy import func, inspect, select, table

from egactl_mail.server.models import MailDomain


@dataclass
class ImportPath:
    """One command that reads a CSV: its columns, valid rows, and how to run it."""

    name: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    """Valid rows; the last column of each is optional, so a row cut short of it parses as valid."""
    args: Callable[[str], list[str]]
    setup: Callable[[object, object], None] = lambda cli, backend: None
    role: str = "admin"


def _mail_domain(cli, backend):
    with backend.write_sessions() as s:
        s.add(MailDomain(domain="rita.go.tz", institution="RITA", naming_rule="given.family", is_primary=True,
                         created_at=backend.now()))
        s.commit()


def _sms_sender(cli, backend):
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    assert cli("sms", "senders", "approve", "RITA").exit_code == 0


def _sms_group(cli, backend):
    assert cli("sms", "group", "create", "wadaiwa", "-i", "RITA", role="operator").exit_code == 0


def _govnet_pool(cli, backend):
    r = cli("govnet", "pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899", "--region", "Dodoma")
    assert r.exit_code == 0, r.stderr


STAFF = [("111000001", "Jose", "Mul", "ICT"), ("111000002", "Asha", "Said", "HR"), ("111000003", "Juma", "Ali", "Legal")]
PHONES = [("0754100001", "5000", "Jose"), ("0754100002", "7000", "Asha"), ("0754100003", "9000", "Juma")]

PATHS = [
    ImportPath("institutions import", ("code", "name", "kind", "region"),
               [("CSVA", "Wakala A", "agency", "Dodoma"), ("CSVB", "Wakala B", "agency", "Arusha"),
                ("CSVC", "Wakala C", "agency", "Mwanza")],
               lambda f: ["institutions", "import", f]),
    ImportPath("mail import", ("employee_number", "given_name", "family_name", "department"), STAFF,
               lambda f: ["mail", "import", f, "-i", "RITA"], _mail_domain),
    ImportPath("mail reconcile", ("employee_number", "given_name", "family_name", "department"), STAFF,
               lambda f: ["mail", "reconcile", "--roster", f, "-i", "RITA", "--apply", "--yes"], _mail_domain),
    ImportPath("sms bulk", ("phone", "amount", "name"), PHONES,
               lambda f: ["sms", "bulk", f, "-i", "RITA", "--template", "Habari {name}, deni lako ni TZS {amount}."],
               _sms_sender, role="operator"),
    ImportPath("sms group import", ("phone", "name"), [(p, n) for p, _, n in PHONES],
               lambda f: ["sms", "group", "import", "wadaiwa", f, "-i", "RITA"], _sms_group, role="operator"),
    ImportPath("govnet import", ("institution", "site", "region", "bandwidth", "contact_name"),
               [("RITA", "dodoma-hq", "Dodoma", "20M", "Jose Mul"), ("RITA", "dodoma-2", "Dodoma", "10M", "Asha"),
                ("RITA", "dodoma-3", "Dodoma", "10M", "Juma")],
               lambda f: ["govnet", "import", f], _govnet_pool),
]


def _lines(header, rows) -> list[str]:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().splitlines(keepends=True)


def short_row(p: ImportPath) -> tuple[str, str]:
    """The last row cut off before its last (optional) column: a truncated export."""
    lines = _lines(p.header, p.rows)
    lines[-1] = ",".join(p.rows[-1][:-1]) + "\n"
    n = len(p.header)
    return "".join(lines), f"line 4: {n - 1} field{'s' if n - 1 != 1 else ''}, the header has {n}"


def long_row(p: ImportPath) -> tuple[str, str]:
    lines = _lines(p.header, p.rows)
    lines[-1] = lines[-1].rstrip("\n") + ",extra\n"
    n = len(p.header)
    return "".join(lines), f"line 4: {n + 1} fields, the header has {n}"


def open_quote(p: ImportPath) -> tuple[str, str]:
    """The last row's last field opens a quote that the file never closes."""
    lines = _lines(p.header, p.rows)
    lines[-1] = ",".join(p.rows[-1][:-1]) + ',"' + p.rows[-1][-1]
    return "".join(lines), "line 4: a quoted field is not closed before the end of the file"


def open_quote_mid_file(p: ImportPath) -> tuple[str, str]:
    """A quote opened on line 2 swallows the rest of the file."""
    lines = _lines(p.header, p.rows)
    lines[1] = ",".join(p.rows[0][:-1]) + ',"' + p.rows[0][-1] + "\n"
    return "".join(lines), "line 2: a quoted field is not closed before the end of the file"


def duplicate_header(p: ImportPath) -> tuple[str, str]:
    header = (*p.header, p.header[0])
    rows = [(*r, r[0]) for r in p.rows]
    return "".join(_lines(header, rows)), (f"line 1: column {p.header[0]!r} appears twice in the header "
                                          f"(columns 1 and {len(header)})")


def nul_byte(p: ImportPath) -> tuple[str, str]:
    lines = _lines(p.header, p.rows)
    lines[2] = lines[2].rstrip("\n") + "\x00\n"
    return "".join(lines), "line 3: a NUL byte"


FAULTS = [short_row, long_row, open_quote, open_quote_mid_file, duplicate_header, nul_byte]


def snapshot(backend) -> dict[str, int]:
    """How many rows every table of the backend holds."""
    with backend.read_sessions() as s:
        names = inspect(s.get_bind()).get_table_names()
        return {n: s.scalar(select(func.count()).select_from(table(n))) for n in names}


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_a_malformed_csv_is_refused_whole(cli, backend, tmp_path, path, fault):
    path.setup(cli, backend)
    text, where = fault(path)
    f = tmp_path / "staff.csv"
    f.write_bytes(text.encode("utf-8"))
    before = snapshot(backend)
    r = cli(*path.args(str(f)), role=path.role)
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr, r.exception)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {f}: {where}"), lines[0]
    assert snapshot(backend) == before
    assert not (tmp_path / "data" / "jobs").exists()  # no job state either: nothing to resume


@pytest.mark.parametrize("path", [p for p in PATHS if p.name != "mail reconcile"], ids=lambda p: p.name)
def test_a_header_only_file_stores_nothing(cli, backend, tmp_path, path):
    path.setup(cli, backend)
    f = tmp_path / "empty.csv"
    f.write_text(",".join(path.header) + "\n", encoding="utf-8-sig")
    before = snapshot(backend)
    r = cli(*path.args(str(f)), "-o", "json", role=path.role)
    assert r.exit_code == 0, r.stderr
    assert r.json()["rows"] == 0 and r.json()["sent"] == 0
    assert f"{f}: no " in r.stderr and " to send; nothing was sent" in r.stderr, r.stderr
    assert snapshot(backend) == before
    assert not (tmp_path / "data" / "jobs").exists()


def test_a_header_only_roster_is_refused_even_for_one_institution(cli, backend, tmp_path):
    """An empty HCMIS export would mean "everyone left": it must never suspend anyone."""
    _mail_domain(cli, backend)
    staff = tmp_path / "staff.csv"
    staff.write_text("employee_number,given_name,family_name\n111000001,Jose,Mul\n", encoding="utf-8")
    assert cli("mail", "import", str(staff), "-i", "RITA").exit_code == 0
    roster = tmp_path / "hcmis.csv"
    roster.write_text("employee_number,given_name,family_name\n", encoding="utf-8")
    before = snapshot(backend)
    r = cli("mail", "reconcile", "--roster", str(roster), "-i", "RITA", "--apply", "--yes", "--allow-mass-suspend")
    assert r.exit_code == 2 and "the roster has no staff rows" in r.stderr, r.stderr
    assert snapshot(backend) == before


def test_bom_blank_lines_quotes_and_unnamed_columns_still_read(cli, backend, tmp_path):
    """What a well-formed export may hold is not mistaken for a fault."""
    f = tmp_path / "inst.csv"
    f.write_bytes(("\ufeffcode,name,kind,region,\r\n"
                   'CSVA,"Wakala ""A"", Dodoma",agency,Dodoma,\r\n'
                   "\r\n"
                   'CSVB,"Wakala B",agency,,\r\n'
                   ",,,,\r\n").encode("utf-8"))
    r = cli("institutions", "import", str(f), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["rows"] == 2 and r.json()["sent"] == 2
    shown = cli("institutions", "show", "CSVA", "-o", "json").json()
    assert shown["name"] == 'Wakala "A", Dodoma'


@pytest.mark.parametrize("path", [p for p in PATHS if p.name in ("institutions import", "mail reconcile")],
                         ids=lambda p: p.name)
def test_invalid_rows_before_a_fault_still_give_one_line(cli, backend, tmp_path, path):
    """The file is refused as a whole: the rows it holds are not reported one by one first."""
    path.setup(cli, backend)
    bad = ("!!", *path.rows[0][1:])
    f = tmp_path / "staff.csv"
    f.write_text("".join(_lines(path.header, [bad, *path.rows[1:]])) + "x\n", encoding="utf-8")
    before = snapshot(backend)
    r = cli(*path.args(str(f)), role=path.role)
    assert r.exit_code == 2
    n = len(path.header)
    assert r.stderr.splitlines() == [f"error: {f}: line 5: 1 field, the header has {n}; "
                                     "nothing was sent; fix the file and run again"]
    assert snapshot(backend) == before


def test_line_numbers_are_the_files_own_after_a_quoted_line_break(cli, backend, tmp_path):
    """A quoted field may span lines; what is reported is the line a text editor shows."""
    _mail_domain(cli, backend)
    f = tmp_path / "staff.csv"
    f.write_text("employee_number,given_name,family_name,department\n"
                 '111000001,Jose,Mul,"ICT\nand Statistics"\n'
                 "111000002,Asha\n", encoding="utf-8")
    before = snapshot(backend)
    r = cli("mail", "import", str(f), "-i", "RITA")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [f"error: {f}: line 4: 2 fields, the header has 4; "
                                     "nothing was sent; fix the file and run again"]
    assert snapshot(backend) == before


# -- formulas ---------------------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-1+cmd|' /C calc'!A0", "@SUM(1,2)", " \t=1+1"]
"""Leading blanks are stripped from names, so a tab or CR before a formula still leaves a formula: refused."""


@pytest.mark.parametrize("value", FORMULAS)
def test_names_that_begin_like_a_formula_are_refused_at_input(cli, backend, tmp_path, value):
    before = snapshot(backend)
    r = cli("institutions", "create", "CSVX", "--name", value, "--kind", "agency")
    assert r.exit_code == 2 and "a spreadsheet would read it as a formula" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1
    f = tmp_path / "inst.csv"
    f.write_text("".join(_lines(("code", "name", "kind"), [("CSVX", value, "agency")])), encoding="utf-8")
    r = cli("institutions", "import", str(f))
    assert r.exit_code == 2 and "line 2: name" in r.stderr and "formula" in r.stderr, r.stderr
    assert snapshot(backend) == before


def test_the_backend_refuses_formula_names_on_every_path_where_names_enter(cli, backend, tmp_path):
    """The rule is the backend's too: a client that skips egactl's checks is still refused (422)."""
    _mail_domain(cli, backend)
    assert cli("sms", "group", "create", "wadaiwa", "-i", "RITA", role="operator").exit_code == 0
    _govnet_pool(cli, backend)
    before = snapshot(backend)
    attempts = [
        ("/api/v1/institutions", {"code": "CSVX", "name": "=1+1", "kind": "agency"}),
        ("/api/v1/mail/mailboxes", {"institution": "RITA", "employee_number": "111000009", "given_name": "@Jose",
                                    "family_name": "Mul"}),
        ("/api/v1/mail/mailboxes", {"institution": "RITA", "employee_number": "111000009", "given_name": "Jose",
                                    "family_name": "Mul", "preferred_name": "+Joe"}),
        ("/api/v1/mail/lists", {"address": "wote@rita.go.tz", "institution": "RITA", "name": "-wote"}),
        ("/api/v1/sms/groups/RITA/wadaiwa/members", {"members": [{"phone": "+255754100001", "name": "=cmd"}]}),
        ("/api/v1/govnet/sites", {"institution": "RITA", "name": "dodoma-hq", "region": "Dodoma",
                                  "contact_name": "=Jose"}),
    ]
    for url, body in attempts:
        r = cli("api", "POST", url, "--input", "-", input=json.dumps(body))
        assert r.exit_code == 2, (url, r.exit_code, r.stdout, r.stderr)
        assert "formula" in r.stdout + r.stderr, (url, r.stdout, r.stderr)
    assert snapshot(backend) == before


def test_csv_and_tsv_output_neutralise_formulas_but_keep_numbers_exact(cli, backend, tmp_path):
    """OWASP's rule for every CSV/TSV egactl writes; JSON keeps the exact value."""
    # A value stored before the input rule existed (or by another client of the database).
    from egactl.server.models import Institution

    with backend.write_sessions() as s:
        s.add(Institution(code="CSVX", name="=HYPERLINK(\"http://evil\",\"click\")", kind="agency", region="-5",
                          contact_email="@x.go.tz", created_at=backend.now(), updated_at=backend.now()))
        s.commit()
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        r = cli("institutions", "show", "CSVX", "-o", fmt)
        assert r.exit_code == 0, r.stderr
        rows = list(csv.DictReader(io.StringIO(r.stdout), delimiter=delimiter))
        assert rows[0]["name"] == "'=HYPERLINK(\"http://evil\",\"click\")"
        assert rows[0]["region"] == "-5"  # a number stays exact
        assert rows[0]["contact_email"] == "'@x.go.tz"
    r = cli("institutions", "show", "CSVX", "-o", "json")
    assert r.json()["name"] == "=HYPERLINK(\"http://evil\",\"click\")"


def test_spreadsheet_safe_rule():
    from egactl.output import spreadsheet_safe

    for value in ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "+255 754 100 001", "-", "+"):
        assert spreadsheet_safe(value) == "'" + value
    for value in ("+255754100001", "-5", "-0.25", "+3", "-1e3", "ok", "", "a=b", "jose@rita.go.tz"):
        assert spreadsheet_safe(value) == value


def test_results_files_neutralise_formulas(cli, backend, tmp_path):
    """A row the backend answers with an error quoting the input lands in the results file defused."""
    from egactl.bulk import ResultsWriter

    out = tmp_path / "results.csv"
    w = ResultsWriter(out, append=False)
    w.write({"line": 2, "status": "failed", "id": "=1+1", "error": "@evil"})
    w.write({"line": 3, "status": "created", "id": "-7", "error": None})
    w.close()
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0] == {"line": "2", "status": "failed", "id": "'=1+1", "error": "'@evil"}
    assert rows[1] == {"line": "3", "status": "created", "id": "-7", "error": ""}


def test_dr_report_csv_neutralises_formulas(cli, backend):
    """The quarterly report is opened in a spreadsheet: a hostile value stored earlier stays inert there."""
    from sqlalchemy import update

    from egactl_dr.server.models import DrSystem

    r = cli("dr", "systems", "add", "RITA/crvs", "--hosting", "gdc-dodoma", "--primary",
            "https://crvs.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")
    assert r.exit_code == 0, r.stderr
    with backend.write_sessions() as s:
        s.execute(update(DrSystem).values(hosting="=HYPERLINK(\"http://evil\")"))
        s.commit()
    r = cli("dr", "report", "-o", "csv")
    assert r.exit_code == 0, r.stderr
    row = next(csv.DictReader(io.StringIO(r.stdout)))
    assert row["system"] == "RITA/crvs" and row["hosting"] == "'=HYPERLINK(\"http://evil\")"
    r = cli("dr", "report", "-o", "json")
    assert r.json()[0]["hosting"] == "=HYPERLINK(\"http://evil\")"
