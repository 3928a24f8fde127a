"""egactl sms senders withdraw: an institution takes back its own sender ID (requested or
approved); it goes to `withdrawn` through rules.SENDER, can no longer be sent from, and the
change is audited. The help desk and other institutions' operators may not."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_sms.server.models import Batch, Message, Sender


@pytest.fixture
def sender(cli):
    """RITA's sender ID, requested by its operator and approved by e-GA."""
    assert cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator").exit_code == 0
    assert cli("sms", "senders", "approve", "RITA").exit_code == 0
    return "RITA"


def state(backend, name="RITA") -> str:
    with backend.read_sessions() as s:
        return s.scalar(select(Sender.status).where(Sender.name == name))


def withdrawals(backend) -> list[AuditEntry]:
    with backend.read_sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "withdraw")))


def sends(backend) -> int:
    with backend.read_sessions() as s:
        return (s.scalar(select(func.count()).select_from(Batch)) or 0) + \
            (s.scalar(select(func.count()).select_from(Message)) or 0)


def test_an_operator_withdraws_its_approved_sender_id(cli, backend, sender):
    r = cli("sms", "senders", "withdraw", "RITA", "-i", "RITA", "--reason", "replaced by RITA SMS", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "Withdrew sender ID 'RITA' of RITA; it can no longer be sent from" in r.stderr
    assert "withdrawn" in r.stdout
    assert state(backend) == "withdrawn"
    [entry] = withdrawals(backend)
    assert (entry.actor, entry.resource_type, entry.resource_id, entry.institution, entry.reason) == (
        "ops@rita.go.tz", "sms-sender", "RITA", "RITA", "replaced by RITA SMS")
    assert entry.before["status"] == "approved" and entry.after["status"] == "withdrawn"
    shown = cli("sms", "senders", "list", "--state", "withdrawn", "-o", "json", role="operator").json()
    assert [(s["name"], s["status"], s["decided_by"], s["decision_note"]) for s in shown] == [
        ("RITA", "withdrawn", "ops@rita.go.tz", "replaced by RITA SMS")]
    table = cli("sms", "senders", "list", role="operator").stdout
    assert "STATE" in table.splitlines()[0] and "withdrawn" in table.splitlines()[1]
    assert cli("sms", "senders", "list", "--state", "approved", "-o", "json").json() == []


def test_a_requested_sender_id_can_be_withdrawn_and_an_admin_may_withdraw_too(cli, backend):
    assert cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator").exit_code == 0
    r = cli("sms", "senders", "withdraw", "RITA", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["status"] == "withdrawn" and r.json()["decided_by"] == "admin@ega.go.tz"
    assert state(backend) == "withdrawn"
    # final: e-GA cannot approve it afterwards
    r = cli("sms", "senders", "approve", "RITA")
    assert r.exit_code == 5
    assert "cannot approve a sender ID that is withdrawn (approve needs pending or approved)" in r.stderr
    assert state(backend) == "withdrawn"


def test_a_withdrawn_sender_id_can_no_longer_be_sent_from(cli, backend, sender):
    assert cli("sms", "senders", "withdraw", "RITA", role="operator").exit_code == 0
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--from", "RITA", "Habari", role="operator")
    assert r.exit_code == 2
    assert "sender ID RITA is not approved for use (withdrawn by RITA)" in r.stderr
    # nor as the institution's only sender ID
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari", role="operator")
    assert r.exit_code == 2 and "RITA has no approved sender ID" in r.stderr
    assert sends(backend) == 0


def test_the_help_desk_may_not_withdraw(cli, backend, sender):
    r = cli("sms", "senders", "withdraw", "RITA", role="helpdesk")
    assert r.exit_code == 4, r.stderr
    assert state(backend) == "approved" and withdrawals(backend) == []


def test_another_institutions_operator_may_not_withdraw(cli, backend, sender):
    r = cli("sms", "senders", "withdraw", "RITA", role="operator_tra")
    assert r.exit_code == 4, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert state(backend) == "approved" and withdrawals(backend) == []


def test_naming_another_institution_changes_nothing(cli, backend, sender):
    r = cli("sms", "senders", "withdraw", "RITA", "-i", "TRA")
    assert r.exit_code == 3
    assert "TRA has no sender ID 'RITA' (it is RITA's)" in r.stderr
    assert state(backend) == "approved"
    assert cli("sms", "senders", "withdraw", "NOSUCH").exit_code == 3


def test_dry_run_changes_nothing(cli, backend, sender):
    r = cli("sms", "senders", "withdraw", "RITA", "--reason", "testing", "--dry-run", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "dry run: would withdraw sender ID 'RITA' of RITA (now approved)" in r.stderr
    assert state(backend) == "approved" and withdrawals(backend) == []
    # judged as the real withdrawal is: the help desk is refused in a dry run too
    assert cli("sms", "senders", "withdraw", "RITA", "--dry-run", role="helpdesk").exit_code == 4
    assert cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari", role="operator").exit_code == 0


def test_withdrawing_twice_is_a_conflict(cli, backend, sender):
    assert cli("sms", "senders", "withdraw", "RITA", role="operator").exit_code == 0
    r = cli("sms", "senders", "withdraw", "RITA", role="operator")
    assert r.exit_code == 5
    assert "cannot withdraw a sender ID that is withdrawn (withdraw needs pending or approved)" in r.stderr
    r = cli("sms", "senders", "withdraw", "RITA", "--dry-run", role="operator")
    assert r.exit_code == 5
    assert len(withdrawals(backend)) == 1


def test_a_rejected_sender_id_cannot_be_withdrawn(cli, backend, sender):
    assert cli("sms", "senders", "reject", "RITA").exit_code == 0
    r = cli("sms", "senders", "withdraw", "RITA", role="operator")
    assert r.exit_code == 5 and state(backend) == "rejected"
