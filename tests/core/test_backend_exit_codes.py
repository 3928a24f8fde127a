"""Every exit code of docs/exit-codes.md's table, produced through the real backend.

One row per way of getting a code: the command a user or a script runs, the
code it must end with, and what the backend must (not) have stored. The table
is checked against ``egactl.errors`` so that a new code without a case fails.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import select, text

from egactl import errors
from egactl.server.models import AuditEntry, Institution


def stored(backend, code):
    with backend.read_sessions() as s:
        return s.scalar(select(Institution).where(Institution.code == code))


@dataclass
class Harness:
    cli: object
    backend: object
    tokens: dict
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    delays: list

    def run_on_profile(self, *args: str, token: str):
        """Run a command without the test transport: the profile's api_url decides where it goes."""
        from typer.testing import CliRunner

        from egactl.cli import app
        from egactl.context import Context

        self.monkeypatch.setenv("EGACTL_TOKEN", token)
        r = CliRunner().invoke(app, list(args), obj=Context(sleep=self.delays.append))
        from conftest import Result

        return Result(r.exit_code, r.stdout, r.stderr, r.exception if not isinstance(r.exception, SystemExit) else None)


@dataclass
class Case:
    code: int
    name: str
    run: Callable[[Harness], object]
    check: Callable[[Harness, object], None] = lambda h, r: None
    stderr: str = ""
    usage: bool = False
    raw: int = 0
    """`egactl api`: like `gh api`, the error response's body is its data (stdout); the HTTP status."""
    """A usage error reported by typer itself (its own "Usage: … Error: …" block)."""


# -- the cases ------------------------------------------------------------------------


def _list_ok(h):
    return h.cli("institutions", "list", "-o", "json")


def _check_list_ok(h, r):
    assert {"RITA", "TRA"} <= {i["code"] for i in r.json()}


def _server_error(h):
    # A real server-side failure: the audit table is gone, so the mutation's
    # audit insert fails inside the request's transaction.
    with h.backend.engine.begin() as conn:
        conn.execute(text("DROP TABLE core_audit"))
    return h.cli("institutions", "create", "UDSM", "--name", "University of Dar es Salaam", "--kind", "other")


def _check_server_error(h, r):
    assert stored(h.backend, "UDSM") is None  # rolled back with the failed audit insert
    assert "Traceback" not in r.stderr and "core_audit" not in r.stderr and "sqlite" not in r.stderr.lower()
    assert r.exception is None


def _bad_flag(h):
    return h.cli("institutions", "create", "NEWCO", "--name", "New Co", "--kind", "company")


def _server_422(h):
    # Passes the client (raw `api` sends what it is given); the server refuses it.
    return h.cli("api", "POST", "institutions", "-f", "code=NEWCO", "-f", "name=New Co", "-f", "kind=company")


def _check_nothing_created(h, r):
    assert stored(h.backend, "NEWCO") is None


def _not_found(h):
    return h.cli("institutions", "show", "NOPE")


def _helpdesk_mutates(h):
    return h.cli("institutions", "create", "NEWCO", "--name", "New Co", "--kind", "agency", role="helpdesk")


def _expired_token(h):
    from egactl.server.security import issue_token

    with h.backend.write_sessions() as s:
        token, _ = issue_token(s, subject="old@ega.go.tz", role="admin", now=h.backend.now(),
                               expires_at=h.backend.now() - dt.timedelta(seconds=1))
        s.commit()
    return h.cli("institutions", "list", token=token)


def _operator_other_institution(h):
    return h.cli("institutions", "update", "TRA", "--region", "Dodoma", role="operator")


def _check_tra_unchanged(h, r):
    assert stored(h.backend, "TRA").region == "Dar es Salaam"


def _duplicate(h):
    return h.cli("institutions", "create", "RITA", "--name", "Another RITA", "--kind", "agency")


def _check_rita_unchanged(h, r):
    assert stored(h.backend, "RITA").name == "Registration Insolvency and Trusteeship Agency"


def _stale_etag(h):
    return h.cli("api", "PATCH", "institutions/RITA", "-H", 'If-Match: "v0"', "-f", "region=Dodoma")


def _check_rita_region(h, r):
    assert stored(h.backend, "RITA").region == "Dar es Salaam"


def _partial_import(h):
    csv = h.tmp_path / "institutions.csv"
    csv.write_text("code,name,kind,region\n"
                   "UDSM,University of Dar es Salaam,other,Dar es Salaam\n"
                   "RITA,Some Other Name,agency,Dodoma\n", encoding="utf-8")
    return h.cli("institutions", "import", str(csv), "--results", str(h.tmp_path / "results.csv"))


def _check_partial_import(h, r):
    assert stored(h.backend, "UDSM") is not None
    assert stored(h.backend, "RITA").name == "Registration Insolvency and Trusteeship Agency"
    results = (h.tmp_path / "results.csv").read_text()
    assert "RITA exists with other details" in results


def _unreachable(h):
    from conftest import free_port

    port = free_port()  # bound then released: nothing listens there now
    r = h.cli("config", "set", "api_url", f"http://127.0.0.1:{port}", "-p", "dead")
    assert r.exit_code == 0, r.stderr
    return h.run_on_profile("--profile", "dead", "institutions", "list", token=h.tokens["admin"])


def _check_unreachable(h, r):
    assert "127.0.0.1" in r.stderr
    assert len(h.delays) >= 1  # GET is idempotent: retried with backoff before giving up


CASES = [
    Case(0, "list", _list_ok, _check_list_ok),
    Case(1, "server-error", _server_error, _check_server_error, "server failed"),
    Case(2, "bad-flag", _bad_flag, _check_nothing_created, "kind", usage=True),
    Case(2, "server-422", _server_422, _check_nothing_created, "kind", raw=422),
    Case(3, "not-found", _not_found, stderr="institution NOPE not found"),
    Case(4, "helpdesk-mutation", _helpdesk_mutates, _check_nothing_created, "read-only"),
    Case(4, "expired-token", _expired_token, stderr="expired"),
    Case(4, "operator-other-institution", _operator_other_institution, _check_tra_unchanged, "TRA"),
    Case(5, "duplicate", _duplicate, _check_rita_unchanged, "already exists"),
    Case(5, "stale-etag", _stale_etag, _check_rita_region, "changed since you read it", raw=412),
    Case(6, "partial-import", _partial_import, _check_partial_import, "1 of 2"),
    Case(7, "unreachable", _unreachable, _check_unreachable, "could not be reached"),
]


def test_the_table_covers_every_documented_code():
    documented = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert documented == set(range(8)) | {130}
    # 130 (Ctrl-C) needs a real SIGINT: test_bulk_import.py::test_ctrl_c_then_resume.
    assert {c.code for c in CASES} == documented - {130}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}-{c.name}" for c in CASES])
def test_exit_code(case, cli, backend, tokens, tmp_path, monkeypatch):
    h = Harness(cli, backend, tokens, tmp_path, monkeypatch, [])
    r = case.run(h)
    assert r.exit_code == case.code, f"stdout={r.stdout!r} stderr={r.stderr!r} exc={r.exception!r}"
    if case.code == 0:
        assert r.stderr == "" or "error" not in r.stderr
    else:
        # One line on stderr, naming what went wrong; nothing on stdout but data.
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        if case.usage:
            assert lines and lines[-1].startswith("Error: "), r.stderr
        else:
            assert lines and lines[-1].startswith("error: "), r.stderr
            assert len(lines) == 1 or case.code == 6, r.stderr
        assert case.stderr in r.stderr
    case.check(h, r)


@pytest.mark.parametrize("case", [c for c in CASES if c.code and not c.usage], ids=lambda c: f"{c.code}-{c.name}")
def test_json_mode_error_is_an_object_with_the_same_code(case, cli, backend, tokens, tmp_path, monkeypatch):
    """Scripts parse stderr with -o json: one object carrying the same exit code."""
    h = Harness(cli, backend, tokens, tmp_path, monkeypatch, [])
    original = h.cli
    h.cli = lambda *args, **kw: original(*args, "-o", "json", **kw)
    h.run_on_profile = lambda *args, _o=h.run_on_profile, **kw: _o(*args, "-o", "json", **kw)
    r = case.run(h)
    assert r.exit_code == case.code, r.stderr
    data = json.loads(r.stderr.strip().splitlines()[-1])
    assert data["exit_code"] == case.code and data["message"]
    if case.code == 6:
        assert json.loads(r.stdout)["failed"] == 1  # the summary is data: stdout
    elif case.raw:
        assert json.loads(r.stdout)["status"] == case.raw
    else:
        assert r.stdout == ""


def test_bad_token_exits_4_and_never_echoes_it(cli):
    bogus = "ega_" + secrets.token_urlsafe(32)
    r = cli("institutions", "list", token=bogus)
    assert r.exit_code == 4
    assert bogus not in r.stderr and bogus not in r.stdout


def test_server_error_names_the_request_id_the_server_logged(cli, backend, caplog):
    with backend.engine.begin() as conn:
        conn.execute(text("DROP TABLE core_audit"))
    r = cli("institutions", "create", "UDSM", "--name", "University of Dar es Salaam", "--kind", "other")
    assert r.exit_code == 1
    rid = r.stderr.rsplit("request id", 1)[1].strip()
    assert rid
    assert any("unhandled error" in rec.getMessage() and rec.exc_info for rec in caplog.records)
    with backend.read_sessions() as s:
        assert s.scalar(select(Institution).where(Institution.code == "UDSM")) is None


def test_audit_entry_not_written_for_refused_requests(cli, backend):
    cli("institutions", "create", "NEWCO", "--name", "New Co", "--kind", "agency", role="helpdesk")
    cli("institutions", "create", "RITA", "--name", "Again", "--kind", "agency")
    with backend.read_sessions() as s:
        assert s.scalars(select(AuditEntry)).all() == []


def test_sandbox_server_error_is_one_line_and_the_traceback_goes_to_its_log(tmp_path):
    """The real executable on the default sandbox profile: a server-side failure is exit 1 and one
    line naming the request id; the traceback (SQL, row data) is in the owner-only sandbox log."""
    import os
    import sqlite3
    import stat
    import subprocess
    import sys

    def egactl(*args):
        return subprocess.run([sys.executable, "-m", "egactl", *args], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ))

    first = egactl("institutions", "list", "-o", "json")
    assert first.returncode == 0, first.stderr
    data = tmp_path / "data"
    with sqlite3.connect(data / "sandbox.db") as conn:
        conn.execute("DROP TABLE core_institutions")
    r = egactl("institutions", "list")
    assert r.returncode == 1
    assert r.stdout == ""
    assert "Traceback" not in r.stderr and "core_institutions" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the server failed to handle this request; request id ")
    rid = last.rsplit(" ", 1)[1]
    log = (data / "sandbox.log").read_text()
    assert f"(request id {rid})" in log and "Traceback" in log and "no such table" in log
    assert stat.S_IMODE((data / "sandbox.log").stat().st_mode) == 0o600
