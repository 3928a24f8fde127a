"""institutions: the core resource, through the commands and the real backend."""

from __future__ import annotations

from sqlalchemy import select

from egactl.server.models import AuditEntry, Institution


def stored(backend, code):
    with backend.read_sessions() as s:
        return s.scalar(select(Institution).where(Institution.code == code))


def test_list_shows_seeded_institutions(cli):
    r = cli("institutions", "list", "-o", "json")
    assert r.exit_code == 0, r.stderr
    codes = [i["code"] for i in r.json()]
    assert {"RITA", "TRA", "NIDA", "UDOM", "KINONDONI-MC"} <= set(codes)


def test_create_stores_and_audits(cli, backend):
    r = cli("institutions", "create", "udsm", "--name", "University of Dar es Salaam", "--kind", "other",
            "--region", "Dar es Salaam", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["code"] == "UDSM"
    row = stored(backend, "UDSM")
    assert row is not None and row.kind == "other"
    with backend.read_sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.resource_id == "UDSM"))
    assert entry.action == "create" and entry.actor == "admin@ega.go.tz" and entry.request_id


def test_duplicate_code_exits_5(cli):
    r = cli("institutions", "create", "RITA", "--name", "Again", "--kind", "agency")
    assert r.exit_code == 5
    assert "already exists" in r.stderr


def test_not_found_exits_3(cli):
    r = cli("institutions", "show", "NOPE")
    assert r.exit_code == 3
    assert r.stderr.strip() == "error: institution NOPE not found"


def test_invalid_kind_exits_2_and_sends_nothing(cli, backend):
    r = cli("institutions", "create", "NEWCO", "--name", "New", "--kind", "company")
    assert r.exit_code == 2
    assert stored(backend, "NEWCO") is None


def test_helpdesk_cannot_create(cli, backend):
    r = cli("institutions", "create", "NEWCO", "--name", "New Co", "--kind", "agency", role="helpdesk")
    assert r.exit_code == 4
    assert "read-only" in r.stderr
    assert stored(backend, "NEWCO") is None


def test_operator_updates_own_but_not_other(cli, backend):
    ok = cli("institutions", "update", "RITA", "--contact-email", "ict@rita.go.tz", role="operator")
    assert ok.exit_code == 0, ok.stderr
    assert stored(backend, "RITA").contact_email == "ict@rita.go.tz"
    denied = cli("institutions", "update", "TRA", "--contact-email", "x@tra.go.tz", role="operator")
    assert denied.exit_code == 4
    assert stored(backend, "TRA").contact_email == "info@tra.go.tz"


def test_delete_needs_yes_without_terminal(cli, backend):
    r = cli("institutions", "delete", "UDOM")
    assert r.exit_code == 2
    assert "--yes" in r.stderr
    assert stored(backend, "UDOM") is not None
    r = cli("institutions", "delete", "UDOM", "--yes")
    assert r.exit_code == 0, r.stderr
    assert stored(backend, "UDOM") is None


def test_json_error_on_stderr(cli):
    import json

    r = cli("institutions", "show", "NOPE", "-o", "json")
    assert r.exit_code == 3
    assert r.stdout == ""
    assert json.loads(r.stderr)["error"] == "not_found"
