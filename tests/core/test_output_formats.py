"""Output: formats, --query anywhere on the line, terminal vs pipe, colour, empties, stdout vs stderr."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from typer.testing import CliRunner

from egactl.cli import app
from egactl.context import Context
from egactl.output import IOStreams

FIELDS = ["code", "name", "kind", "region", "contact_email", "version", "created_at", "updated_at"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class TTY(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_in_terminal(cli, *args: str, no_color_env: bool = False, monkeypatch=None):
    if no_color_env:
        monkeypatch.setenv("NO_COLOR", "1")
    out, err = TTY(), TTY()
    ctx = Context(io=IOStreams(out=out, err=err, inp=TTY()), transport=cli.transport, token=cli.tokens["admin"])
    r = CliRunner().invoke(app, list(args), obj=ctx)
    assert r.exit_code == 0, (r.stderr, err.getvalue())
    return ctx, out.getvalue(), err.getvalue()


def stored_codes(backend) -> list[str]:
    from sqlalchemy import select

    from egactl.server.models import Institution

    with backend.read_sessions() as s:
        return list(s.scalars(select(Institution.code).order_by(Institution.id)))


def test_json_is_the_api_objects(cli, backend):
    r = cli("institutions", "list", "-o", "json")
    assert r.exit_code == 0, r.stderr
    items = r.json()
    assert [i["code"] for i in items] == stored_codes(backend)
    assert all(list(i) == FIELDS for i in items)
    assert r.stderr == ""


def test_jsonl_one_object_a_line(cli, backend):
    r = cli("institutions", "list", "-o", "jsonl")
    lines = r.stdout.splitlines()
    assert [json.loads(ln)["code"] for ln in lines] == stored_codes(backend)


@pytest.mark.parametrize("fmt,delimiter", [("csv", ","), ("tsv", "\t")])
def test_delimited_has_field_name_header_and_quotes(cli, fmt, delimiter):
    created = cli("institutions", "create", "MOHCDGEC", "--name", 'Ministry of Health, Community "Development"',
                  "--kind", "ministry", "--region", "Dodoma")
    assert created.exit_code == 0, created.stderr
    r = cli("institutions", "list", "-o", fmt, "--all")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout), delimiter=delimiter))
    assert rows[0] == ["code", "name", "kind", "region", "contact_email"]
    mine = next(row for row in rows if row[0] == "MOHCDGEC")
    assert mine == ["MOHCDGEC", 'Ministry of Health, Community "Development"', "ministry", "Dodoma", ""]
    assert len({len(row) for row in rows}) == 1


@pytest.mark.parametrize("args", [
    ("-o", "json", "--query", "[?kind=='LGA'].code", "institutions", "list"),
    ("institutions", "list", "-o", "json", "--query", "[?kind=='LGA'].code"),
    ("institutions", "-o", "json", "list", "--query=[?kind=='LGA'].code"),
    ("--query", "[?kind=='LGA'].code", "institutions", "list", "-ojson"),
    ("--output=json", "institutions", "list", "--query", "[?kind=='LGA'].code"),
])
def test_global_options_anywhere(cli, args):
    r = cli(*args)
    assert r.exit_code == 0, r.stderr
    assert r.json() == ["KINONDONI-MC", "ARUSHA-CC"]


def test_double_dash_stops_hoisting(cli):
    """After --, '-o' is an argument: here an institution code that does not exist."""
    r = cli("institutions", "show", "--", "-o")
    assert r.exit_code == 3, r.stderr
    assert "institution -O not found" in r.stderr


def test_query_scalars_in_table_mode_one_a_line(cli):
    r = cli("institutions", "list", "--kind", "LGA", "--query", "[].code")
    assert r.stdout == "KINONDONI-MC\nARUSHA-CC\n"
    r = cli("institutions", "show", "RITA", "--query", "region")
    assert r.stdout == "Dar es Salaam\n"


def test_query_projection_in_csv_uses_the_projected_keys(cli):
    r = cli("institutions", "list", "--kind", "LGA", "-o", "csv", "--query", "[].{c: code, r: region}")
    assert r.stdout == "c,r\nKINONDONI-MC,Dar es Salaam\nARUSHA-CC,Arusha\n"


def test_bad_query_is_one_line_exit_2(cli):
    r = cli("institutions", "list", "--query", "[?code==")
    assert r.exit_code == 2
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: invalid --query")
    assert r.stdout == ""


@pytest.mark.parametrize("query, says", [
    ("[?code==", "'[?code==': the expression ends too early (at column 8: something is left open)"),
    ("length(@, 3)", "invalid token 3 at column 10"),
    ("codé", "unknown character 'é' at column 3"),
    ("length(@, `3`)", "Expected 1 argument for function length(), received 2"),
])
def test_a_bad_query_error_is_whole_on_its_one_line(cli, query, says):
    """jmespath spreads an error over three lines; the first alone ("Incomplete expression:") says nothing."""
    r = cli("institutions", "list", "--query", query)
    assert r.exit_code == 2
    assert len(r.stderr.splitlines()) == 1 and says in r.stderr


def test_bad_output_format_exit_2(cli):
    r = cli("institutions", "list", "-o", "yaml")
    assert r.exit_code == 2
    assert "must be one of table, wide, json, jsonl, csv, tsv" in r.stderr


def test_plain_table_when_piped(cli):
    r = cli("institutions", "list", "--kind", "LGA")
    assert r.exit_code == 0
    assert not ANSI.search(r.stdout)
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["CODE", "NAME", "KIND", "REGION", "CONTACT"]
    assert [row.split()[0] for row in rows] == ["KINONDONI-MC", "ARUSHA-CC"]
    # aligned: every column starts at the same offset on every line
    for title in ("NAME", "KIND", "REGION", "CONTACT"):
        col = header.index(title)
        assert all(row[col - 2:col] == "  " and row[col] != " " for row in rows), title


def test_plain_record_for_show(cli):
    r = cli("institutions", "show", "RITA")
    lines = dict(re.split(r"\s{2,}", ln, maxsplit=1) for ln in r.stdout.splitlines())
    assert lines["CODE"] == "RITA" and lines["KIND"] == "agency" and lines["VERSION"] == "1"


def test_rich_table_in_a_terminal(cli):
    _, out, _ = run_in_terminal(cli, "institutions", "list", "--kind", "LGA")
    assert "\x1b[1m" in out  # bold header: rich, not tabulate
    text = ANSI.sub("", out)
    assert "KINONDONI-MC" in text and "ARUSHA-CC" in text


@pytest.mark.parametrize("how", ["env", "flag"])
def test_no_color(cli, monkeypatch, how):
    args = ("institutions", "list", "--kind", "LGA") + (("--no-color",) if how == "flag" else ())
    ctx, out, _ = run_in_terminal(cli, *args, no_color_env=how == "env", monkeypatch=monkeypatch)
    assert ctx.io.no_color
    assert not re.search(r"\x1b\[(3\d|9\d|38;)", out)
    # What plugins print through the console loses its colour too.
    sink = TTY()
    console = ctx.io.console()
    console.file = sink
    console.print("[red]failed[/red] [green]ok[/green]")
    assert "failed" in sink.getvalue() and not re.search(r"\x1b\[(3\d|9\d|38;)", sink.getvalue())


def test_colour_when_allowed(cli):
    """The counterpart of test_no_color: the same console does colour without NO_COLOR."""
    ctx, _, _ = run_in_terminal(cli, "institutions", "list", "--kind", "LGA")
    sink = TTY()
    console = ctx.io.console()
    console.file = sink
    console.print("[red]failed[/red]")
    assert "\x1b[31m" in sink.getvalue()


def test_no_color_also_for_a_default_context(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert IOStreams().no_color
    ctx = Context()
    ctx.configure(profile=None, output=None, query=None, debug=False, no_color=False)
    assert ctx.io.no_color
    ctx = Context()
    monkeypatch.delenv("NO_COLOR")
    ctx.configure(profile=None, output=None, query=None, debug=False, no_color=True)
    assert ctx.io.no_color


@pytest.mark.parametrize("fmt,expected", [
    ("json", "[]\n"),
    ("jsonl", ""),
    ("csv", "code,name,kind,region,contact_email\n"),
    ("tsv", "code\tname\tkind\tregion\tcontact_email\n"),
])
def test_empty_results_are_valid_output(cli, fmt, expected):
    r = cli("institutions", "list", "--search", "no-such-thing", "-o", fmt)
    assert r.exit_code == 0
    assert r.stdout == expected
    assert r.stderr == ""


def test_an_empty_table_says_so_on_stderr_and_prints_no_header(cli):
    """A header alone is data only in csv/tsv; a table for people says there is nothing."""
    r = cli("institutions", "list", "--search", "no-such-thing")
    assert r.exit_code == 0
    assert r.stdout == ""
    assert r.stderr == "No institutions match.\n"


def _visible(text: str) -> list[str]:
    return ANSI.sub("", text).splitlines()


LONG_NAME = "Tanzania Commission for Science and Technology Research and Innovation Directorate"


def test_a_table_fits_80_columns_cutting_long_text_not_codes(cli, monkeypatch):
    assert cli("institutions", "create", "COSTECH-RESEARCH", "--name", LONG_NAME, "--kind", "agency",
               "--contact-email", "directorate.general@costech.or.tz").exit_code == 0
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run_in_terminal(cli, "institutions", "list", "--all")
    lines = _visible(out)
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == ["CODE", "NAME", "KIND", "REGION", "CONTACT"]  # no header folded, none dropped
    row = next(line for line in lines if line.startswith("COSTECH-RESEARCH "))  # the first column whole
    assert "…" in row and LONG_NAME not in row  # the long name cut, on one line
    assert "KINONDONI-MC" in out and len(lines) == len(cli("institutions", "list", "--all", "-o", "json").json()) + 1


def test_wide_shows_every_column_and_cuts_nothing(cli, monkeypatch):
    assert cli("institutions", "create", "COSTECH-RESEARCH", "--name", LONG_NAME, "--kind", "agency").exit_code == 0
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run_in_terminal(cli, "institutions", "list", "--all", "-o", "wide")
    lines = _visible(out)
    assert lines[0].split() == ["CODE", "NAME", "KIND", "REGION", "CONTACT", "CREATED"]
    assert any(LONG_NAME in line for line in lines) and "…" not in out
    piped = cli("institutions", "list", "-o", "wide")
    assert piped.stdout.splitlines()[0].split() == ["CODE", "NAME", "KIND", "REGION", "CONTACT", "CREATED"]
    assert "CREATED" not in cli("institutions", "list").stdout  # a wide column only with -o wide
    assert "created_at" not in cli("institutions", "list", "-o", "csv").stdout  # csv's columns stay a script's contract


def test_empty_note_in_a_terminal_goes_to_stderr(cli):
    _, out, err = run_in_terminal(cli, "institutions", "list", "--search", "no-such-thing")
    assert "No institutions match." in err and "No institutions match." not in out


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_errors_on_stderr(cli, fmt):
    r = cli("institutions", "show", "NOPE", "-o", fmt)
    assert r.exit_code == 3
    assert r.stdout == ""
    err = json.loads(r.stderr)
    assert err["error"] == "not_found" and err["exit_code"] == 3 and err["message"] == "institution NOPE not found"
    assert err["problem"]["status"] == 404


def test_json_errors_when_json_comes_from_the_environment(cli, monkeypatch):
    monkeypatch.setenv("EGACTL_OUTPUT", "json")
    r = cli("institutions", "create", "RITA", "--name", "Again", "--kind", "agency")
    assert r.exit_code == 5
    assert json.loads(r.stderr)["error"] == "conflict"


def test_table_errors_are_one_line(cli):
    r = cli("institutions", "create", "RITA", "--name", "Again", "--kind", "agency")
    assert r.exit_code == 5
    assert r.stderr == "error: an institution with code RITA already exists\n"


def test_notices_never_on_stdout(cli):
    r = cli("institutions", "create", "UDSM", "--name", "University of Dar es Salaam", "--kind", "other")
    assert r.exit_code == 0
    assert "Created institution UDSM" in r.stderr and "Created" not in r.stdout
    assert re.search(r"^CODE\s+UDSM$", r.stdout, re.M)
    r = cli("institutions", "create", "MUHAS", "--name", "Muhimbili University", "--kind", "other", "-o", "json")
    assert r.json()["code"] == "MUHAS"
    assert r.stderr == ""  # the status line is for people; scripts asked for data only


def test_sandbox_mutation_notice_on_stderr(isolated_env):
    """The real sandbox (no test transport): the notice names the state file, data stays clean."""
    def sandbox(*args):
        return CliRunner().invoke(app, list(args), obj=Context())

    r = sandbox("institutions", "list", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "sandbox:" not in r.stderr  # reads are not announced
    assert "RITA" in [i["code"] for i in json.loads(r.stdout)]
    db = isolated_env / "data" / "sandbox.db"
    r = sandbox("institutions", "create", "UDSM", "--name", "University of Dar es Salaam", "--kind", "other",
                "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["code"] == "UDSM"
    notices = [ln for ln in r.stderr.splitlines() if ln.startswith("sandbox:")]
    assert notices == [f"sandbox: nothing leaves this machine (state in {db})"]
    assert db.exists()
    r = sandbox("institutions", "show", "UDSM", "-o", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["name"] == "University of Dar es Salaam"
    r = sandbox("institutions", "delete", "UDSM", "--yes")
    assert r.exit_code == 0 and "sandbox: nothing leaves this machine" in r.stderr
    assert "sandbox" not in r.stdout


def test_times_are_east_africa_time_for_people_and_rfc3339_for_scripts(cli, clock):
    """One time format each: tables show ``2026-11-29 22:47 EAT``; csv and json keep RFC 3339."""
    import datetime as dt

    from egactl.times import RFC3339

    table = cli("institutions", "show", "RITA")
    created = cli("-o", "json", "institutions", "show", "RITA").json()["created_at"]
    assert RFC3339.fullmatch(created)
    moment = dt.datetime.fromisoformat(created).astimezone(dt.timezone(dt.timedelta(hours=3)))
    assert moment.strftime("%Y-%m-%d %H:%M EAT") in table.stdout
    assert created not in table.stdout
    csv_out = cli("-o", "csv", "institutions", "show", "RITA").stdout
    assert created in csv_out and "EAT" not in csv_out
