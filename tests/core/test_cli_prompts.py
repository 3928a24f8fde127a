"""Prompts only when a person is at both ends (stdin and stdout terminals); scripts get a flag to pass."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from egactl.cli import app
from egactl.context import Context
from egactl.output import IOStreams
from egactl.server.models import Institution


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def exists(backend, code: str) -> bool:
    with backend.read_sessions() as s:
        return s.scalar(select(Institution.id).where(Institution.code == code)) is not None


def run(cli, *args: str, stdin_tty: bool, stdout_tty: bool, answer: str | None = None):
    """Run with streams that are (or are not) terminals; `answer` is what the person types."""
    out, err = TTY() if stdout_tty else Pipe(), Pipe()
    ctx = Context(io=IOStreams(out=out, err=err, inp=TTY() if stdin_tty else Pipe()),
                  transport=cli.transport, token=cli.tokens["admin"])
    r = CliRunner().invoke(app, list(args), obj=ctx, input=answer)
    # Notices go to the context's stderr, the prompt to the process's: a person sees both.
    r.err = r.stderr + err.getvalue()
    return r


def test_script_without_yes_is_refused_naming_the_flag(cli, backend):
    r = cli("institutions", "delete", "UDOM")
    assert r.exit_code == 2
    assert r.stderr == ("error: Delete institution UDOM (University of Dodoma): needs confirmation; "
                        "pass --yes to proceed without a prompt\n")
    assert exists(backend, "UDOM")


def test_json_error_names_the_flag(cli, backend):
    r = cli("institutions", "delete", "UDOM", "-o", "json")
    assert r.exit_code == 2 and r.stdout == ""
    assert json.loads(r.stderr)["hint"] == "pass --yes to proceed without a prompt"
    assert exists(backend, "UDOM")


@pytest.mark.parametrize("stdin_tty,stdout_tty", [(True, False), (False, True), (False, False)])
def test_no_prompt_unless_both_ends_are_terminals(cli, backend, stdin_tty, stdout_tty):
    r = run(cli, "institutions", "delete", "UDOM", stdin_tty=stdin_tty, stdout_tty=stdout_tty, answer="y\n")
    assert r.exit_code == 2
    assert "pass --yes" in r.err
    assert "[y/N]" not in r.err + r.stdout  # it never asked
    assert exists(backend, "UDOM")


def test_terminal_prompt_no_keeps_it(cli, backend):
    r = run(cli, "institutions", "delete", "UDOM", stdin_tty=True, stdout_tty=True, answer="n\n")
    assert r.exit_code == 2
    assert "Delete institution UDOM (University of Dodoma)? [y/N]" in r.err
    assert "cancelled; nothing was changed" in r.err
    assert exists(backend, "UDOM")


def test_terminal_prompt_yes_deletes(cli, backend):
    r = run(cli, "institutions", "delete", "UDOM", stdin_tty=True, stdout_tty=True, answer="y\n")
    assert r.exit_code == 0, r.err
    assert "[y/N]" in r.err
    assert not exists(backend, "UDOM")


def test_yes_skips_the_prompt_even_in_a_terminal(cli, backend):
    r = run(cli, "institutions", "delete", "UDOM", "--yes", stdin_tty=True, stdout_tty=True)
    assert r.exit_code == 0, r.err
    assert "[y/N]" not in r.err
    assert not exists(backend, "UDOM")


def test_dry_run_never_asks_and_changes_nothing(cli, backend):
    r = run(cli, "institutions", "delete", "UDOM", "--dry-run", stdin_tty=True, stdout_tty=True)
    assert r.exit_code == 0
    assert "[y/N]" not in r.err and "would delete institution UDOM" in r.err
    assert exists(backend, "UDOM")


def test_login_without_terminal_names_with_token(monkeypatch):
    monkeypatch.setenv("EGACTL_API_URL", "http://127.0.0.1:9")
    r = CliRunner().invoke(app, ["auth", "login"], obj=Context())
    assert r.exit_code == 2
    assert "no terminal to prompt for a token" in r.stderr and "--with-token" in r.stderr
