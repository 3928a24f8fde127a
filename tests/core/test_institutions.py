"""institutions: the core resource, through the commands and the real backend."""

from __future__ import annotations

import json

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


UDSM = ("institutions", "create", "UDSM", "--name", "University of Dar es Salaam", "--kind", "other",
        "--region", "Dar es Salaam", "--contact-email", "vc@udsm.ac.tz")


def _audit_of(backend, code):
    with backend.read_sessions() as s:
        return [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.resource_id == code))]


def test_create_again_with_the_same_values_is_exists_and_changes_nothing(cli, backend, clock):
    assert cli(*UDSM).exit_code == 0
    first = stored(backend, "UDSM")
    clock.advance(days=1)
    r = cli(*UDSM)
    assert r.exit_code == 0, r.stderr
    assert "exists" in r.stderr and "Created" not in r.stderr
    r = cli(*UDSM, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["code"] == "UDSM" and r.json()["version"] == 1 and r.json()["name"] == "University of Dar es Salaam"
    again = stored(backend, "UDSM")
    assert (again.version, again.updated_at) == (first.version, first.updated_at)
    assert _audit_of(backend, "UDSM") == ["create"]  # the re-runs recorded nothing
    r = cli(*UDSM, "--dry-run")
    assert r.exit_code == 0 and "exists" in r.stderr


def test_create_of_a_taken_code_with_other_values_exits_5_naming_the_fields(cli, backend):
    r = cli("institutions", "create", "rita", "--name", "RITA Tanzania", "--kind", "ministry",
            "--region", "Dar es Salaam", "--contact-email", "info@rita.go.tz")
    assert r.exit_code == 5
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: institution RITA already exists with other values for name and kind (")
    assert "region" not in line and "contact_email" not in line
    assert "egactl institutions update RITA" in line
    row = stored(backend, "RITA")
    assert (row.name, row.kind, row.version) == ("Registration Insolvency and Trusteeship Agency", "agency", 1)
    assert _audit_of(backend, "RITA") == []
    r = cli("institutions", "create", "RITA", "--name", "RITA Tanzania", "--kind", "agency", "-o", "json")
    assert r.exit_code == 5
    error = json.loads(r.stderr)
    assert error["exit_code"] == 5 and error["problem"]["differs"] == ["name"]  # options not given ask for nothing
    same_with_fewer_options = cli("institutions", "create", "RITA", "--name", "Registration Insolvency and Trusteeship "
                                  "Agency", "--kind", "agency")
    assert same_with_fewer_options.exit_code == 0 and "exists" in same_with_fewer_options.stderr


def test_creating_a_token_twice_gives_two_tokens_never_exists(cli, backend):
    args = ("auth", "tokens", "create", "--subject", "ict@tra.go.tz", "--role", "operator", "-i", "TRA", "-o", "json")
    one, two = cli(*args), cli(*args)
    assert one.exit_code == two.exit_code == 0, one.stderr + two.stderr
    assert "exists" not in one.stderr + two.stderr
    assert one.json()["token"] != two.json()["token"] and one.json()["id"] != two.json()["id"]
    from egactl.server.models import ApiToken

    with backend.read_sessions() as s:
        assert len(s.scalars(select(ApiToken).where(ApiToken.subject == "ict@tra.go.tz")).all()) == 2


def test_an_identical_create_is_marked_exists_for_every_client(cli):
    """The SDK's same_or_conflict marks the 200 of a create that found its object as asked,
    so any command (a plugin's too) can say "exists" without knowing the route."""
    r = cli("api", "POST", "/api/v1/institutions", "-f", "code=RITA", "-f", "kind=agency",
            "-f", "name=Registration Insolvency and Trusteeship Agency", "--include")
    assert r.exit_code == 0, r.stderr
    head = r.stdout.lower()
    assert head.startswith("http/1.1 200") and "x-egactl-outcome: exists" in head
    taken = cli("api", "POST", "/api/v1/institutions", "-f", "code=TRA", "-f", "kind=agency", "-f", "name=Other")
    assert taken.exit_code == 5 and "already exists with other values for name" in taken.stderr
