"""--dry-run judged by the backend: the frame runs the change in full and rolls it back
(`X-Dry-Run: true`), so a dry run refuses exactly what the real run would refuse and
stores nothing: no row, no audit entry, no idempotency key."""

from __future__ import annotations

from sqlalchemy import func, select

from egactl.server.models import AuditEntry, IdempotencyRecord, Institution


def counts(backend):
    with backend.read_sessions() as s:
        return (s.scalar(select(func.count()).select_from(Institution)),
                s.scalar(select(func.count()).select_from(AuditEntry)),
                s.scalar(select(func.count()).select_from(IdempotencyRecord)))


def test_a_dry_run_create_with_a_bad_code_fails_as_the_real_one_does(cli, backend):
    before = counts(backend)
    dry = cli("institutions", "create", "bad code!", "--name", "Bad", "--kind", "agency", "--dry-run")
    real = cli("institutions", "create", "bad code!", "--name", "Bad", "--kind", "agency")
    assert dry.exit_code == real.exit_code == 2
    assert "institution code 'BAD CODE!'" in dry.stderr
    assert counts(backend) == before


def test_a_dry_run_create_answers_as_the_real_one_and_stores_nothing(cli, backend):
    before = counts(backend)
    r = cli("institutions", "create", "udsm", "--name", "University of Dar es Salaam", "--kind", "other", "--dry-run",
            "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["code"] == "UDSM" and r.json()["version"] == 1
    assert "dry run: would create institution UDSM" in r.stderr
    assert counts(backend) == before
    assert cli("institutions", "show", "UDSM").exit_code == 3


def test_a_dry_run_refuses_a_clash_and_a_delete_of_what_is_still_held(cli, backend):
    assert cli("ussd", "reserve", "-i", "RITA", "--reference", "R/1").exit_code == 0
    before = counts(backend)
    clash = cli("institutions", "create", "RITA", "--name", "Again", "--kind", "agency", "--dry-run")
    assert clash.exit_code == 5 and "already exists" in clash.stderr
    held = cli("institutions", "delete", "RITA", "--dry-run")
    assert held.exit_code == 5 and "still holds" in held.stderr
    assert counts(backend) == before


def test_a_dry_run_update_changes_nothing(cli, backend):
    r = cli("institutions", "update", "TRA", "--region", "Mwanza", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["region"] == "Mwanza"
    shown = cli("institutions", "show", "TRA", "-o", "json").json()
    assert shown["region"] != "Mwanza" and shown["version"] == r.json()["version"] - 1


def test_the_frame_gives_every_plugin_the_dry_run(cli, backend):
    """Through the raw API: a plugin's route knows nothing of dry runs, and still stores nothing."""
    before = counts(backend)
    r = cli("api", "POST", "/api/v1/sms/optouts", "-f", "institution=RITA", "-f", "phone=0754000111",
            "-H", "X-Dry-Run: true", "-i")
    assert r.exit_code == 0, r.stderr
    assert "x-dry-run: true" in r.stdout.lower() and "+255754000111" in r.stdout
    assert counts(backend) == before
    listed = cli("api", "GET", "/api/v1/sms/optouts").json()["items"]
    assert listed == []


def test_a_dry_run_header_other_than_true_or_false_is_refused(cli):
    r = cli("api", "POST", "/api/v1/institutions", "-f", "code=UDSM", "-f", "name=University", "-f", "kind=other",
            "-H", "X-Dry-Run: maybe")
    assert r.exit_code == 2
    assert "X-Dry-Run must be true or false" in r.stderr
