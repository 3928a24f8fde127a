"""The sandbox's example sender IDs are stamped with the backend's clock, not the machine's."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select


def test_seeded_senders_are_dated_by_the_backend_clock(tmp_path):
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock
    from egactl_sms.server.models import Sender

    moment = dt.datetime(2031, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    app = create_app(f"sqlite:///{tmp_path / 'sandbox.db'}", sandbox=True, clock=FakeClock(moment))
    be = app.state.backend
    try:
        with be.write_sessions() as session:
            rows = session.scalars(select(Sender).order_by(Sender.name)).all()
            assert [r.name for r in rows if r.institution == "RITA"] == ["RITA"]
            assert {(r.status, r.requested_at, r.decided_at) for r in rows if r.name != "TRA KODI"} == {
                ("approved", moment, moment)}
            assert [(r.status, r.requested_at, r.decided_at) for r in rows if r.name == "TRA KODI"] == [
                ("pending", moment, None)]
    finally:
        be.engine.dispose()


def test_the_sandbox_seeds_a_small_history_for_the_look_ups_and_their_examples(tmp_path, monkeypatch):
    """A fresh sandbox has something for `sms list`, `batches`, `report`, `outbox`, `group list`
    and `optout list` to show (the first example of every list command runs against it), and a
    sender ID request for `senders approve` to decide."""
    from typer.testing import CliRunner

    from egactl.cli import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args):
        r = runner.invoke(app, [*args, "-o", "json"])
        assert r.exit_code == 0, r.stderr
        return json.loads(r.stdout)

    listed = run("sms", "list")
    assert [(m["id"], m["batch"], m["to"], m["state"]) for m in listed] == [
        (2, 1, "+255713200002", "delivered"), (1, 1, "+255713200001", "delivered")]
    [batch] = run("sms", "batches")
    assert (batch["kind"], batch["group"], batch["messages"], batch["skipped"]["opted_out"]) == ("group", "wateja", 2, 1)
    assert run("sms", "report", "1")["states"]["delivered"] == 2
    assert len(run("sms", "outbox", "--batch", "1")) == 2
    [group] = run("sms", "group", "list", "-i", "RITA")
    assert (group["name"], group["members"]) == ("wateja", 3)
    assert [o["phone"] for o in run("sms", "optout", "list", "-i", "RITA")] == ["+255713200003"]
    assert [s["name"] for s in run("sms", "senders", "list", "--state", "pending")] == ["TRA KODI"]
    # and the request is there to be decided, as the help's examples do
    r = runner.invoke(app, ["sms", "senders", "approve", "TRA KODI", "--note", "ticket 4411"])
    assert r.exit_code == 0, r.stderr

