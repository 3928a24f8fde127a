"""The script contract through the real executable: with `-o json` every failure,
the parser's usage errors included, is one JSON object on stderr; `-o tsv` keeps
every record on one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def egactl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "egactl", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture
def sandbox_ready():
    first = egactl("institutions", "list", "-o", "json")  # the sandbox's first-use notices happen here
    assert first.returncode == 0, first.stderr


@pytest.mark.parametrize("args, message", [
    (("-o", "json", "--bogus"), "No such option: --bogus"),
    (("--output=json", "institutions", "list", "--bogus"), "No such option: --bogus"),
    (("institutions", "list", "--bogus", "-o", "json"), "No such option: --bogus"),
    (("-ojson", "institutions", "show"), "Missing argument 'CODE'."),
    (("-o", "json", "nosuchcommand"), "No such command 'nosuchcommand'."),
    (("-o", "json", "institutions", "list", "--limit", "many"), "Invalid value for '--limit'"),
    (("-o", "json", "ussd", "list", "--state", "sleeping"), "Invalid value for '--state'"),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_with_json_output_a_usage_error_is_one_json_object_on_stderr(sandbox_ready, args, message):
    run = egactl(*args)
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    error = json.loads(lines[0])
    assert error["error"] == "invalid_input" and error["exit_code"] == 2
    assert error["message"].startswith(message)
    assert error["hint"].startswith("see `egactl")


def test_json_output_from_the_environment_counts_too(sandbox_ready):
    run = egactl("institutions", "list", "--bogus", env={"EGACTL_OUTPUT": "json"})
    assert run.returncode == 2
    assert json.loads(run.stderr)["message"] == "No such option: --bogus"


def test_without_json_a_usage_error_stays_usage_text(sandbox_ready):
    run = egactl("institutions", "list", "--bogus")
    assert run.returncode == 2
    assert "Usage: egactl institutions list" in run.stderr and "No such option: --bogus" in run.stderr


def test_tsv_keeps_every_record_on_one_line(sandbox_ready):
    # A JMESPath raw literal puts a tab, a newline and a backslash into a value.
    query = "[:2].{code: code, note: 'a\tb\nc\\d'}"
    run = egactl("institutions", "list", "-o", "tsv", "--query", query)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 3  # the header and two records
    assert lines[0] == "code\tnote"
    assert all(line.split("\t")[1] == "a\\tb\\nc\\\\d" for line in lines[1:])
    csv = egactl("institutions", "list", "-o", "csv", "--query", query)
    assert '"a\tb\nc\\d"' in csv.stdout  # CSV stays RFC 4180: quoted, not escaped


def _on_a_terminal(*args: str, env: dict[str, str] | None = None) -> bytes:
    """stdout of egactl written to a pseudo-terminal, as a person at a terminal sees it."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        run = subprocess.run([sys.executable, "-m", "egactl", *args], stdout=slave, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "120", **(env or {})}, timeout=120)
    finally:
        os.close(slave)
    assert run.returncode == 0, run.stderr
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_no_color_means_no_escape_codes_at_all_not_even_bold(sandbox_ready, how):
    styled = _on_a_terminal("institutions", "list")
    assert b"\x1b[" in styled  # the table's header is bold at a terminal
    plain = (_on_a_terminal("institutions", "list", env={"NO_COLOR": "1"}) if how == "NO_COLOR"
             else _on_a_terminal("--no-color", "institutions", "list"))
    assert b"\x1b[" not in plain
    assert b"RITA" in plain


def test_with_json_output_a_bulk_files_invalid_rows_are_inside_the_one_error_object(sandbox_ready, tmp_path):
    bad = tmp_path / "institutions.csv"
    bad.write_text("code,name,kind\nGOOD1,Good One,agency\nbad code!,X,agency\nOK2,,agency\n", encoding="utf-8")
    run = egactl("-o", "json", "institutions", "import", str(bad))
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    error = json.loads(lines[0])
    assert error["error"] == "invalid_input" and "2 invalid rows of 3" in error["message"]
    assert [r["line"] for r in error["rows"]] == [3, 4]
    assert "BAD CODE!" in error["rows"][0]["error"] and error["rows"][1]["error"] == "name is empty"
    # For people, the same rows stay lines of text.
    text = egactl("institutions", "import", str(bad))
    assert "institutions.csv: line 3: institution code 'BAD CODE!'" in text.stderr


def test_with_json_output_skipped_rows_are_in_the_summary_not_on_stderr(sandbox_ready, tmp_path):
    bad = tmp_path / "institutions.csv"
    bad.write_text("code,name,kind\nGOOD1,Good One,agency\nOK2,,agency\n", encoding="utf-8")
    run = egactl("-o", "json", "institutions", "import", str(bad), "--skip-invalid", "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "line 3" not in run.stderr
    assert json.loads(run.stdout)["invalid_rows"] == [{"line": 3, "error": "name is empty"}]


@pytest.mark.parametrize("args", [(), ("sms",), ("mail",), ("auth", "tokens")], ids=lambda a: " ".join(a) or "egactl")
def test_a_group_without_a_command_shows_its_help_on_stdout_with_exit_0(args):
    """As gh and kubectl: `egactl sms` is a request for help, not a usage error."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "egactl", *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"Usage: egactl {' '.join(args)}".rstrip() + " [OPTIONS] COMMAND") and run.stderr == ""


def test_with_json_output_stderr_holds_only_the_error_even_on_first_use_of_the_sandbox():
    """The sandbox's notices ("sandbox: nothing leaves this machine", the keyring warning)
    used to come before the JSON error object: a script parsing stderr as JSON broke."""
    first = egactl("-o", "json", "institutions", "delete", "NOPE", "--yes")
    assert first.returncode == 3
    (line,) = first.stderr.splitlines()
    assert json.loads(line)["error"] == "not_found"
    change = egactl("-o", "json", "institutions", "create", "MOFP", "--name", "Ministry of Finance",
                    "--kind", "ministry", "--region", "Dodoma")
    assert change.returncode == 0 and change.stderr == ""
    assert json.loads(change.stdout)["code"] == "MOFP"
