"""An erasure sees the database still: no write in progress beside it (egactl.server.db.alone).

On PostgreSQL each statement sees what was committed when it began. A quick send to a
number, still inside its transaction while the erasure of that number runs, committed
just after it: the erasure's statements had not seen its message, so the number and
the text stayed in clear, queued for delivery to the person who asked to be erased.
Here the send is held inside its transaction (after it stored its message) while the
erasure is asked for, through a real HTTP server; whatever the order, afterwards no
message keeps the number and the send's message is cancelled as erased. On SQLite
one write transaction runs at a time, and the same holds.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import event, select

from tests.conftest import serving_in_thread

NUMBER = "0754321987"
E164 = "+255754321987"


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path):
    from egactl.server.app import create_app
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core

    url = (f"sqlite:///{tmp_path / 'fence.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    app = create_app(url, upgrade=True)  # as `serve` runs it, without its workers: a send stays queued
    be = app.state.backend
    with be.write_sessions() as session:
        seed_core(session, be.now())  # the institutions, RITA among them
        token, _ = issue_token(session, subject="dpo@ega.go.tz", role="admin", institutions=[], now=be.now())
        session.commit()
    with serving_in_thread(app, "the fence test's server") as base:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as admin:
            for path, body in (("/api/v1/sms/senders", {"institution": "RITA", "name": "RITA"}),
                               ("/api/v1/sms/senders/RITA/approve", None)):
                r = admin.post(path, json=body)
                assert r.status_code < 300, r.text
        yield base, token, be
    be.engine.dispose()


class HeldSend:
    """A quick send to NUMBER, held inside its transaction just after it stored its message,
    until ``release()``; and an erasure of NUMBER, asked for while it is held."""

    def __init__(self, url: str, token: str, be):
        self.url, self.headers, self.be = url, {"Authorization": f"Bearer {token}"}, be
        self.stored, self.hold = threading.Event(), threading.Event()
        self.answers: dict[str, httpx.Response] = {}

    def _held_after_storing(self, conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO sms_messages") and not self.stored.is_set():
            self.stored.set()  # the send's own thread: its message stored, its transaction not committed
            self.hold.wait(timeout=30)

    def _post(self, name: str, path: str, body: dict) -> None:
        self.answers[name] = httpx.post(f"{self.url}{path}", headers=self.headers, timeout=60, json=body)

    def __enter__(self) -> HeldSend:
        event.listen(self.be.engine, "after_cursor_execute", self._held_after_storing)
        self.sending = threading.Thread(target=self._post, args=("send", "/api/v1/sms/messages", {
            "institution": "RITA", "to": [NUMBER], "text": "Habari, deni lako ni TSh 20,000",
            "allow_quiet_hours": True}))
        self.sending.start()
        assert self.stored.wait(timeout=30), "the send did not store its message"
        self.erasing = threading.Thread(target=self._post, args=("erase", "/api/v1/privacy/erasures", {
            "subject": NUMBER, "case": "PDPA-2026-031"}))
        self.erasing.start()
        return self

    def release(self) -> None:
        self.hold.set()

    def __exit__(self, *exc) -> None:
        self.hold.set()
        self.sending.join(timeout=60)
        self.erasing.join(timeout=60)
        event.remove(self.be.engine, "after_cursor_execute", self._held_after_storing)


def test_a_send_in_progress_during_an_erasure_is_erased_too(served):
    from egactl_sms.server.models import Message
    from egactl_sms.server.privacy import ERASED

    url, token, be = served
    with HeldSend(url, token, be) as held:
        held.erasing.join(timeout=1.5)  # the erasure runs (or waits for the send) while the send is held
        held.release()
    answers = held.answers

    assert answers["send"].status_code == 201, answers["send"].text
    assert answers["erase"].status_code == 200, answers["erase"].text
    erased = answers["erase"].json()["erased"]
    assert erased.get("sms", {}).get("queued messages cancelled") == 1, erased
    with be.read_sessions() as s:
        rows = s.execute(select(Message.recipient, Message.body, Message.state, Message.reason)).all()
    mine = [r for r in rows if r.recipient in (E164, answers["erase"].json()["subject"])]
    assert [(r.recipient, r.body, r.state, r.reason) for r in mine] == [
        (answers["erase"].json()["subject"], "", "cancelled", ERASED)]
    assert not [r for r in rows if r.recipient == E164]  # the number is kept nowhere


@pytest.mark.parametrize("served", ["postgresql"], indirect=True)  # on SQLite it waits for the lock like any write
def test_an_erasure_that_cannot_see_the_database_still_in_time_is_busy_and_changes_nothing(served, monkeypatch):
    """A write that outlasts the fence's wait: the erasure gives up as busy (503, Retry-After),
    having changed nothing, and the write goes on (PostgreSQL; SQLite's writers queue on its lock)."""
    from egactl.server import db
    from egactl_sms.server.models import Message

    url, token, be = served
    monkeypatch.setattr(db, "FENCE_WAIT", "300ms")
    with HeldSend(url, token, be) as held:
        held.erasing.join(timeout=30)  # no release: the erasure must come back on its own
        assert not held.erasing.is_alive(), "the erasure waited past the fence's bound"
        held.release()
    refused, sent = held.answers["erase"], held.answers["send"]
    assert refused.status_code == 503 and refused.headers.get("Retry-After"), refused.text
    assert sent.status_code == 201, sent.text
    with be.read_sessions() as s:
        assert s.execute(select(Message.recipient, Message.state)).all() == [(E164, "queued")]
