"""mail: the lifecycle through the commands, retention with a moving clock, passwords, quota."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
from sqlalchemy import select

from egactl.server.models import AuditEntry, IdempotencyRecord
from egactl_mail.server import passwords
from egactl_mail.server.models import MailAddress, Mailbox, MailDomain, MailListMember

RETENTION = 30


@pytest.fixture
def backend_settings():
    return {"mail.retention_days": RETENTION}


@pytest.fixture
def juma(cli, backend):
    with backend.write_sessions() as s:
        s.add(MailDomain(domain="rita.go.tz", institution="RITA", naming_rule="given.family", is_primary=True,
                         created_at=backend.now()))
        s.commit()
    r = cli("mail", "create", "-i", "RITA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "100000001", "-o", "json")
    assert r.exit_code == 0, r.stderr
    return r.json()["address"]


def stored(backend, address="juma.mrisho@rita.go.tz") -> Mailbox:
    with backend.read_sessions() as s:
        return s.scalar(select(Mailbox).where(Mailbox.address == address).order_by(Mailbox.id.desc()))


def act(cli, action, ref, *extra):
    yes = ("--yes",) if action in ("suspend", "delete", "purge") else ()
    return cli("mail", action, ref, *yes, *extra, "-o", "json")


ILLEGAL = {
    "active": ["resume", "undelete", "purge"],
    "suspended": ["suspend", "undelete", "purge"],
    "deleted": ["suspend", "resume", "delete", "purge"],  # purge only after retention
    "purged": ["suspend", "resume", "delete", "undelete", "purge"],
}


def check_illegal(cli, backend, ref, state):
    for action in ILLEGAL[state]:
        r = act(cli, action, ref)
        assert r.exit_code == 5, (state, action, r.stderr)
        assert stored(backend).status == state


def test_every_transition_legal_and_illegal(cli, backend, clock, juma):
    check_illegal(cli, backend, juma, "active")
    r = act(cli, "suspend", juma, "--reason", "disciplinary")
    assert r.exit_code == 0, r.stderr
    assert r.json()["status"] == "suspended" and r.json()["login"] is False and r.json()["delivery"] == "delivered"
    check_illegal(cli, backend, juma, "suspended")
    assert act(cli, "resume", juma).json()["status"] == "active"
    assert act(cli, "delete", juma).json()["status"] == "deleted"
    assert act(cli, "undelete", juma).json()["status"] == "active"
    assert act(cli, "suspend", juma).exit_code == 0
    deleted = act(cli, "delete", juma).json()
    assert deleted["delivery"] == "bounced" and deleted["login"] is False
    assert deleted["retain_until"] == (clock.now + dt.timedelta(days=RETENTION)).isoformat()
    check_illegal(cli, backend, juma, "deleted")
    # undelete returns to the state before delete (suspended here)
    assert act(cli, "undelete", juma).json()["status"] == "suspended"
    assert act(cli, "delete", juma).exit_code == 0
    clock.advance(days=RETENTION, seconds=1)
    r = act(cli, "purge", juma)
    assert r.exit_code == 0, r.stderr
    assert r.json()["status"] == "purged"
    check_illegal(cli, backend, juma, "purged")
    with backend.read_sessions() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.resource_type == "mailbox")
                                 .order_by(AuditEntry.id)))
        reason = s.scalar(select(AuditEntry.reason).where(AuditEntry.action == "suspend"))
    assert actions == ["create", "suspend", "resume", "delete", "undelete", "suspend", "delete", "undelete",
                       "delete", "purge"]
    assert reason == "disciplinary"


def test_undelete_only_within_retention(cli, backend, clock, juma):
    assert act(cli, "delete", juma).exit_code == 0
    clock.advance(days=RETENTION - 1)
    assert act(cli, "undelete", juma).exit_code == 0
    assert act(cli, "delete", juma).exit_code == 0
    clock.advance(days=RETENTION)
    r = act(cli, "undelete", juma)
    assert r.exit_code == 5
    assert "retention period ended" in r.stderr
    assert stored(backend).status == "deleted"


def test_address_not_reusable_until_purge(cli, backend, clock, juma):
    r = cli("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "ICT", "-m", juma)
    assert r.exit_code == 0, r.stderr
    assert act(cli, "delete", juma).exit_code == 0
    other = ("mail", "create", "-i", "RITA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "100000002", "-o", "json")
    assert cli(*other, "--address", juma).exit_code == 5
    clock.advance(days=RETENTION - 1)
    assert cli(*other, "--address", juma).exit_code == 5
    r = act(cli, "purge", juma)
    assert r.exit_code == 5 and "retained until" in r.stderr
    clock.advance(days=1)
    # the mail part's retention worker purges (it is what runs under `egactl serve`; the core's
    # workers, which run beside it, count what they did too: expired idempotency keys)
    assert sum(worker.tick(backend) for worker in backend.parts["mail"].workers) == 1
    old = stored(backend)
    assert old.status == "purged" and old.employee_number is None and old.given_name is None
    with backend.read_sessions() as s:
        assert s.scalar(select(MailAddress).where(MailAddress.address == juma)) is None
        assert list(s.scalars(select(MailListMember))) == []
        purge = s.scalar(select(AuditEntry).where(AuditEntry.action == "purge"))
    assert purge.actor == "system" and purge.reason == "retention period ended"
    # the tombstone still answers by its old address…
    assert cli("mail", "show", juma, "-o", "json").json()["status"] == "purged"
    # …until the address is someone's again
    r = cli(*other, "--address", juma)
    assert r.exit_code == 0, r.stderr
    assert cli("mail", "show", juma, "-o", "json").json()["employee_number"] == "100000002"


def test_reset_password_shown_once_stored_as_hash_never_audited(cli, backend, juma):
    r = cli("mail", "reset-password", juma, "--yes", "-o", "json")
    assert r.exit_code == 0, r.stderr
    password = r.json()["temporary_password"]
    assert r.json()["must_change_at_first_login"] is True and len(password) >= 16
    row = stored(backend)
    assert row.must_change_password is True
    assert password not in row.password_hash and passwords.verify(password, row.password_hash)
    with backend.read_sessions() as s:
        audit = [json.dumps([e.before, e.after, e.reason]) for e in s.scalars(select(AuditEntry))]
        stored_bodies = [rec.body for rec in s.scalars(select(IdempotencyRecord))]
    assert any("reset-password" in a or "must_change_password" in a for a in audit)
    assert not any(password in a or row.password_hash in a for a in audit)
    assert not any(password.encode() in body for body in stored_bodies)
    # a second reset makes a new password; the first stops working
    again = cli("mail", "reset-password", juma, "--yes", "-o", "json").json()["temporary_password"]
    assert again != password and not passwords.verify(password, stored(backend).password_hash)


def test_reset_password_to_a_private_file(cli, backend, juma, tmp_path):
    target = tmp_path / "secret" / "juma.txt"
    r = cli("mail", "reset-password", juma, "--yes", "--password-file", str(target), "-o", "json")
    assert r.exit_code == 0, r.stderr
    password = target.read_text().strip()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert password not in r.stdout and password not in r.stderr
    assert r.json()["password_file"] == str(target)
    assert passwords.verify(password, stored(backend).password_hash)


def test_reset_password_needs_yes_refuses_deleted_and_an_idempotency_key(cli, backend, juma):
    r = cli("mail", "reset-password", juma)
    assert r.exit_code == 2 and "--yes" in r.stderr
    assert stored(backend).password_hash is None
    r = cli("api", "POST", f"/api/v1/mail/mailboxes/{juma}/reset-password", "-H", "Idempotency-Key: k1")
    assert r.exit_code == 2, r.stderr
    assert "without an Idempotency-Key" in r.stderr
    assert stored(backend).password_hash is None
    assert act(cli, "delete", juma).exit_code == 0
    assert cli("mail", "reset-password", juma, "--yes").exit_code == 5


def test_quota_set_and_usage_in_show(cli, backend, juma):
    with backend.write_sessions() as s:
        s.scalar(select(Mailbox)).used_mb = 1536
        s.commit()
    r = cli("mail", "show", juma)
    assert r.exit_code == 0, r.stderr
    assert "1.5 GB of 2 GB (75%)" in r.stdout
    r = cli("mail", "quota", "set", juma, "5G", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["quota_mb"] == 5120 and r.json()["usage_percent"] == 30.0
    assert stored(backend).quota_mb == 5120
    r = cli("mail", "quota", "set", juma, "1G", "--dry-run")
    assert r.exit_code == 0 and "more than 1 GB" in r.stderr
    assert stored(backend).quota_mb == 5120
    for bad in ("3X", "500G", "10M"):
        assert cli("mail", "quota", "set", juma, bad).exit_code == 2
    assert stored(backend).quota_mb == 5120


def test_dry_run_changes_nothing_and_reports_illegal_moves(cli, backend, juma):
    r = cli("mail", "suspend", juma, "--dry-run")
    assert r.exit_code == 0 and "active → suspended" in r.stderr
    assert cli("mail", "resume", juma, "--dry-run").exit_code == 5
    assert stored(backend).status == "active" and stored(backend).version == 1


def test_an_illegal_move_is_one_line_naming_what_the_state_allows(cli, backend, juma):
    """The mailbox's lifecycle is the SDK's Lifecycle: the route frame answers its refusal
    (409, the state in the problem), the same words in a dry run, nothing changed."""
    r = cli("mail", "resume", juma)
    assert r.exit_code == 5
    assert r.stderr.strip().splitlines() == ["error: cannot resume a mailbox that is active (resume needs suspended)"]
    r = cli("mail", "resume", juma, "--dry-run")
    assert r.exit_code == 5 and "cannot resume a mailbox that is active (resume needs suspended)" in r.stderr
    r = cli("api", "POST", f"/api/v1/mail/mailboxes/{juma}/purge")
    assert r.exit_code == 5
    assert act(cli, "delete", juma).exit_code == 0
    r = cli("mail", "reset-password", juma, "--yes")
    assert r.exit_code == 5
    assert "cannot reset-password a mailbox that is deleted (reset-password needs active or suspended)" in r.stderr
    r = cli("mail", "quota", "set", juma, "5G")
    assert r.exit_code == 5 and "cannot resize a mailbox that is deleted" in r.stderr
    assert stored(backend).status == "deleted" and stored(backend).quota_mb == 2048


def test_an_illegal_move_over_the_api_names_the_state(app, tokens, juma):
    import httpx

    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    try:
        with httpx.Client(transport=transport, base_url="http://sandbox") as http:
            r = http.post(f"/api/v1/mail/mailboxes/{juma}/undelete", json={},
                          headers={"Authorization": f"Bearer {tokens['admin']}"})
    finally:
        transport.close()
    assert r.status_code == 409
    assert r.json()["state"] == "active"
    assert r.json()["detail"] == "cannot undelete a mailbox that is active (undelete needs deleted)"


def test_times_in_messages_are_east_africa_time_and_fields_stay_rfc3339(app, cli, backend, clock, tokens, juma):
    """The retention messages and a temporary password's note say when in East Africa Time, to the minute,
    as egactl shows every time: at 22:30 UTC it is 01:30 the next day in Dar es Salaam, so a date cut
    from the UTC time was a day early. The API's fields stay RFC 3339 (UTC)."""
    import httpx

    from egactl.sandbox import SyncASGITransport

    clock.advance(hours=13, minutes=30)  # 2026-11-22 22:30 UTC
    r = cli("mail", "reset-password", juma, "--yes")
    assert r.exit_code == 0, r.stderr
    shown = cli("mail", "show", juma)
    assert "temporary, set 2026-11-23 01:30 EAT; must be changed at first login" in shown.stdout
    assert cli("mail", "show", juma, "-o", "json").json()["password_set_at"] == "2026-11-22T22:30:00+00:00"

    r = cli("mail", "delete", juma, "--yes")
    assert r.exit_code == 0, r.stderr
    assert f"Deleted {juma}; it is now deleted (address retained until 2026-12-23 01:30 EAT)" in r.stderr
    assert cli("mail", "show", juma, "-o", "json").json()["retain_until"] == "2026-12-22T22:30:00+00:00"
    r = cli("mail", "purge", juma, "--yes")
    assert r.exit_code == 5 and f"cannot purge {juma}: it is retained until 2026-12-23 01:30 EAT" in r.stderr
    transport = SyncASGITransport(app)
    try:
        with httpx.Client(transport=transport, base_url="http://sandbox") as http:
            problem = http.post(f"/api/v1/mail/mailboxes/{juma}/purge", json={},
                                headers={"Authorization": f"Bearer {tokens['admin']}"}).json()
    finally:
        transport.close()
    assert problem["detail"] == f"cannot purge {juma}: it is retained until 2026-12-23 01:30 EAT"
    assert problem["retain_until"] == "2026-12-22T22:30:00+00:00"

    clock.advance(days=RETENTION)
    r = cli("mail", "undelete", juma)
    assert r.exit_code == 5
    assert (f"cannot undelete {juma}: its retention period ended at 2026-12-23 01:30 EAT; it is due to be purged"
            in r.stderr)
    assert stored(backend).status == "deleted"
