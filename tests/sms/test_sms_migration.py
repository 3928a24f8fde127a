"""sms schema version 2 (batch cancellation, send guards) on a database made by
version 1: the upgrade keeps the batches and messages, and cancel and the re-run
check work on them at once. SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from egactl_sms.server.models import Message


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'v1.db'}"
    return request.getfixturevalue("postgres_url")


def _app(url):
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock

    return create_app(url, clock=FakeClock(), upgrade=True)  # as after `egactl serve migrate`


def _run(app, token, *args):
    from egactl.cli import app as cli_app
    from egactl.context import Context
    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    try:
        return CliRunner().invoke(cli_app, list(args), obj=Context(transport=transport, token=token,
                                                                   sleep=lambda s: None))
    finally:
        transport.close()


def test_version_1_database_is_upgraded_in_place(database_url):
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core

    app = _app(database_url)
    be = app.state.backend
    with be.write_sessions() as s:
        seed_core(s, be.now())
        admin, _ = issue_token(s, subject="admin@ega.go.tz", role="admin", now=be.now())
        s.commit()
    _run(app, admin, "sms", "senders", "request", "RITA", "-i", "RITA")
    _run(app, admin, "sms", "senders", "approve", "RITA")
    r = _run(app, admin, "sms", "send", "--to", "0754123456", "-i", "RITA", "--at", "2026-11-23 09:00", "Habari")
    assert r.exit_code == 0, r.stderr
    r = _run(app, admin, "sms", "send", "--to", "0754123457", "-i", "RITA", "Habari")
    assert r.exit_code == 0, r.stderr
    assert _run(app, admin, "sms", "group", "create", "wateja", "-i", "RITA").exit_code == 0
    r = _run(app, admin, "sms", "group", "add-members", "wateja", "0754123458", "-i", "RITA", "--name", "Neema Kweka")
    assert r.exit_code == 0, r.stderr
    # Back to what version 1 created: no guards table, no cancellation columns.
    with be.engine.begin() as c:
        c.execute(text("UPDATE sms_messages SET state = 'failed', reason = 'gateway refused' WHERE batch_id = 2"))
        c.execute(text("DROP TABLE sms_member_name_tokens"))  # 0006's words of members' names
        c.execute(text("DROP TABLE sms_rate_windows"))  # 0004's counters and rate window
        c.execute(text("DROP TABLE sms_batch_reasons"))
        c.execute(text("DROP TABLE sms_batch_states"))
        c.execute(text("DROP TABLE sms_send_guards"))
        c.execute(text("ALTER TABLE sms_batches DROP COLUMN cancelled_at"))
        c.execute(text("ALTER TABLE sms_batches DROP COLUMN cancelled_by"))
        for name in ("ix_sms_messages_created_id", "ix_sms_messages_institution_created_id",
                     "ix_sms_messages_batch_created_id", "ix_sms_messages_batch_state_created_id",
                     "ix_sms_messages_recipient_created_id"):  # 0003's indexes, back to 0001's
            c.execute(text(f"DROP INDEX {name}"))
        for name in ("ix_sms_group_members_phone", "ix_sms_outbox_recipient", "ix_sms_messages_unexpired_deliver_after_id",
                     "ix_sms_outbox_unexpired_sent_id", "ix_sms_batches_kept_text_created_id"):  # 0005's
            c.execute(text(f"DROP INDEX {name}"))
        c.execute(text("CREATE INDEX ix_sms_messages_batch_state ON sms_messages (batch_id, state)"))
        c.execute(text("CREATE INDEX ix_sms_messages_recipient ON sms_messages (recipient)"))
        c.execute(text("UPDATE alembic_version_sms SET version_num = '0001'"))
    be.engine.dispose()

    app = _app(database_url)  # the new release starts
    be = app.state.backend
    try:
        with be.read_sessions() as s:
            assert s.execute(text("SELECT version_num FROM alembic_version_sms")).scalar() == "0006"
            # the words of the names of the members already stored
            assert sorted(s.execute(text("SELECT token FROM sms_member_name_tokens")).scalars()) == ["kweka", "neema"]
            # the counters were filled from the messages already stored
            assert sorted(s.execute(text("SELECT batch_id, state, messages FROM sms_batch_states")).all()) == [
                (1, "queued", 1), (2, "failed", 1)]
        r = _run(app, admin, "find", "kweka ne", "--service", "sms", "-o", "json")
        assert r.exit_code == 0 and [f["reference"] for f in json.loads(r.stdout)] == ["RITA/wateja"], r.stdout
        r = _run(app, admin, "sms", "cancel", "1", "--yes")
        assert r.exit_code == 0, r.stderr
        with be.read_sessions() as s:
            assert s.scalars(select(Message.state).where(Message.batch_id == 1)).all() == ["cancelled"]
        r = _run(app, admin, "sms", "report", "1", "-o", "json")
        assert r.exit_code == 0 and json.loads(r.stdout)["states"]["cancelled"] == 1
        r = _run(app, admin, "sms", "report", "2", "-o", "json")
        assert json.loads(r.stdout)["failure_reasons"] == [{"state": "failed", "reason": "gateway refused", "count": 1}]
        _run(app, admin, "sms", "group", "create", "wazazi", "-i", "RITA")
        _run(app, admin, "sms", "group", "add-members", "wazazi", "0754123456", "-i", "RITA")
        args = ("sms", "send", "--group", "wazazi", "-i", "RITA", "Habari")
        assert _run(app, admin, *args).exit_code == 0
        assert _run(app, admin, *args).exit_code == 5
    finally:
        be.engine.dispose()
