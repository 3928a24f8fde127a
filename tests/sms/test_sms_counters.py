"""A batch's report reads its counters, and the counters are always what counting the
messages would say.

Every kind of change a message goes through (queued by a quick, group or bulk send;
cancelled alone or with its batch; claimed, accepted, refused, unknown, retried, given up;
recovered from a dead worker; expired; rejected after a late opt-out; cancelled late;
requeued after a driver error; delivered to the outbox) is made through the real
commands and the real worker, and after each the counters (sms_batch_states,
sms_batch_reasons) are compared with a fresh ``COUNT(*) … GROUP BY`` of the messages: on
SQLite and on PostgreSQL, and on PostgreSQL with everything happening at once.
"""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest
from sqlalchemy import event, func, select

from egactl.plugin.testing import query_plans
from egactl_sms.server import drivers, workers
from egactl_sms.server.models import BatchReason, BatchState, Message

FAILURES = ("failed", "rejected", "expired")


def fresh(be) -> tuple[dict, dict]:
    with be.read_sessions() as s:
        states = {(b, st): n for b, st, n in s.execute(
            select(Message.batch_id, Message.state, func.count()).group_by(Message.batch_id, Message.state))}
        reasons = {(b, st, r): n for b, st, r, n in s.execute(
            select(Message.batch_id, Message.state, Message.reason, func.count())
            .where(Message.state.in_(FAILURES)).group_by(Message.batch_id, Message.state, Message.reason))}
    return states, reasons


def kept(be) -> tuple[dict, dict]:
    with be.read_sessions() as s:
        states = {(r.batch_id, r.state): r.messages for r in s.scalars(select(BatchState)) if r.messages}
        reasons = {(r.batch_id, r.state, r.reason): r.messages for r in s.scalars(select(BatchReason)) if r.messages}
        negative = s.scalar(select(func.count()).select_from(BatchState).where(BatchState.messages < 0))
    assert negative == 0
    return states, reasons


def check(be) -> dict:
    want = fresh(be)
    assert kept(be) == want
    return want[0]


class Killed(BaseException):
    """The worker's process died here."""


class Scripted(drivers.Driver):
    """A gateway whose answers the test chooses, one per request (accepted when none is left)."""

    name = "scripted"
    chunk_size = 2

    def __init__(self):
        self.script: list = []
        self.received: list[str] = []

    def send(self, sender, text, recipients, now):
        step = self.script.pop(0) if self.script else drivers.Outcome(drivers.ACCEPTED, ref="gw")
        if callable(step):
            step = step()
        if isinstance(step, BaseException) or (isinstance(step, type) and issubclass(step, BaseException)):
            raise step
        self.received += recipients
        return step


@pytest.fixture(params=["sqlite", "postgres"])
def env(request, cli, backend):
    """(cli, backend, clock) on SQLite (the usual fixtures) or on a throwaway PostgreSQL."""
    if request.param == "sqlite":
        yield cli, backend
        return
    from tests.conftest import cli_on

    with cli_on(request.getfixturevalue("postgres_url"), ("admin", "operator")) as pair:
        yield pair


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def test_counters_follow_every_kind_of_change(env, tmp_path):
    cli, be = env
    clock = be.clock
    gateway = Scripted()
    be.overrides.update({"sms.driver": gateway, "sms.rate": 0, "sms.max_attempts": 2, "sms.lease_seconds": 300,
                         "sms.in_flight": 1})
    ok(cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator"))
    ok(cli("sms", "senders", "approve", "RITA"))

    # queued by a quick send (a duplicate number among them), then one cancelled alone
    quick = ok(cli("sms", "send", "--to", ",".join(f"07541000{i:02d}" for i in range(8)) + ",0754100000", "-i", "RITA",
                   "Habari za leo", "-o", "json", role="operator")).json()
    counts = check(be)
    assert counts == {(quick["id"], "queued"): 8}
    ok(cli("sms", "cancel", "--message", str(quick["recipients"][0]["id"]), "--yes", role="operator"))
    assert check(be)[(quick["id"], "cancelled")] == 1

    # the gateway: accepted, refused, unknown, busy (retried), a driver bug (requeued)
    gateway.script = [drivers.Outcome(drivers.ACCEPTED, ref="a"),
                      drivers.Outcome(drivers.FAILED, "gateway refused the request: Invalid Request (48205)"),
                      drivers.Outcome(drivers.UNKNOWN, "the connection failed after the request was sent"),
                      drivers.Outcome(drivers.RETRY, "gateway answered HTTP 503 Service Unavailable")]
    workers.tick(be)
    counts = check(be)
    assert counts[(quick["id"], "submitted")] == 2 and counts[(quick["id"], "failed")] == 4
    assert counts[(quick["id"], "queued")] == 1
    clock.advance(seconds=61)
    gateway.script = [drivers.Outcome(drivers.RETRY, "gateway answered HTTP 503 Service Unavailable")]
    workers.tick(be)  # second attempt: given up
    assert check(be)[(quick["id"], "failed")] == 5

    # a group send; a late opt-out rejects one; a driver bug requeues the rest
    ok(cli("sms", "group", "create", "wazazi", "-i", "RITA", role="operator"))
    ok(cli("sms", "group", "add-members", "wazazi", "0754200001", "0754200002", "0754200003", "-i", "RITA",
           role="operator"))
    group = ok(cli("sms", "send", "--group", "wazazi", "-i", "RITA", "Kikao cha wazazi kesho", "--allow-quiet-hours",
                   "-o", "json", role="operator")).json()
    ok(cli("sms", "optout", "create", "0754200003", "-i", "RITA", "--reason", "replied STOP", role="operator"))
    gateway.script = [RuntimeError("driver bug")]
    with pytest.raises(RuntimeError):
        workers.tick(be)
    counts = check(be)
    assert counts[(group["id"], "rejected")] == 1 and counts[(group["id"], "submitting")] == 2

    # a worker dies while handing a chunk over; after its lease the claims are recovered
    clock.advance(seconds=301)
    workers.tick(be)
    counts = check(be)
    assert counts[(group["id"], "failed")] == 2 and (group["id"], "submitting") not in counts
    ok(cli("sms", "send", "--to", "0754300001,0754300002,0754300003", "-i", "RITA", "Karibu", role="operator"))
    gateway.script = [drivers.Outcome(drivers.ACCEPTED), Killed]
    with pytest.raises(Killed):
        workers.tick(be)
    check(be)
    clock.advance(seconds=301)
    workers.tick(be)
    check(be)

    # a bulk campaign in chunks (duplicates, an opted-out number, a bad row), cancelled halfway
    csv = tmp_path / "wazazi.csv"
    csv.write_text("phone,name\n" + "".join(f"07545{i:05d},Mzazi {i}\n" for i in range(30))
                   + "0754500001,Mzazi 1\n0754200003,Mtu\n12345,Bad\n")
    bulk = ok(cli("sms", "bulk", str(csv), "-i", "RITA", "--template", "Habari {name}", "--at", "2026-11-25 10:00",
                  "--skip-invalid", "-o", "json", role="operator"))
    batch = max(b for b, _ in check(be))
    assert check(be)[(batch, "queued")] == 30
    assert "30" in bulk.stdout
    ok(cli("sms", "cancel", str(batch), "--yes", role="operator"))
    assert check(be)[(batch, "cancelled")] == 30

    # a message returned to the queue after its batch was cancelled: cancelled late
    late = ok(cli("sms", "send", "--to", "0754600001,0754600002", "-i", "RITA", "Taarifa", "-o", "json",
                  role="operator")).json()

    def cancel_meanwhile():
        ok(cli("sms", "cancel", str(late["id"]), "--yes", role="operator"))
        return drivers.Outcome(drivers.RETRY, "gateway answered HTTP 429 Too Many Requests")

    be.overrides["sms.max_attempts"] = 5
    gateway.script = [cancel_meanwhile]
    workers.tick(be)
    clock.advance(seconds=61)
    workers.tick(be)
    assert check(be)[(late["id"], "cancelled")] == 2

    # expired: still queued long after its time (the gateway paused meanwhile)
    old = ok(cli("sms", "send", "--to", "0754700001", "-i", "RITA", "Habari", "-o", "json", role="operator")).json()
    clock.advance(hours=49)
    workers.tick(be)
    assert check(be)[(old["id"], "expired")] == 1

    # the outbox: delivered in the transaction that takes them off the queue
    be.overrides["sms.driver"] = "outbox"
    out = ok(cli("sms", "send", "--to", "0754800001,0754800002", "-i", "RITA", "Habari", "-o", "json",
                 role="operator")).json()
    workers.tick(be)
    assert check(be)[(out["id"], "delivered")] == 2

    # what the report shows is the counters
    report = ok(cli("sms", "report", str(quick["id"]), "-o", "json")).json()
    assert report["states"]["failed"] == 5 and report["states"]["submitted"] == 2
    assert sum(r["count"] for r in report["failure_reasons"]) == 5
    assert {r["reason"] for r in report["failure_reasons"]} == {
        "gateway refused the request: Invalid Request (48205)",
        workers.UNKNOWN_ANSWER.format(why="the connection failed after the request was sent"),
        "gave up after 2 attempts: gateway answered HTTP 503 Service Unavailable"}


def test_the_sandbox_seed_batch_is_counted(tmp_path):
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock

    app = create_app(f"sqlite:///{tmp_path / 'sandbox.db'}", sandbox=True, clock=FakeClock())
    be = app.state.backend
    try:
        assert check(be) == {(1, "delivered"): 2}
    finally:
        be.engine.dispose()


def test_a_report_reads_no_message_rows(cli, backend):
    """The report of a batch reads its counters (a primary-key range), not its messages."""
    backend.overrides.update({"sms.rate": 0})
    ok(cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator"))
    ok(cli("sms", "senders", "approve", "RITA"))
    ok(cli("sms", "send", "--to", "0754123456,0754123457", "-i", "RITA", "Habari", role="operator"))
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(backend.engine, "before_cursor_execute", seen)
    try:
        r = ok(cli("sms", "report", "1", "-o", "json"))
    finally:
        event.remove(backend.engine, "before_cursor_execute", seen)
    assert r.json()["states"]["queued"] == 2
    assert [s for s in statements if "sms_messages" in s] == []
    assert query_plans(backend.engine, "sms_messages", lambda: ok(cli("sms", "report", "1"))) == []
    plans = query_plans(backend.engine, "sms_batch_states", lambda: ok(cli("sms", "report", "1")))
    assert plans and all("USING INDEX" in p or "USING PRIMARY KEY" in p for p in plans), plans


def test_counters_hold_under_concurrent_changes_on_postgresql(tmp_path, postgres_url):
    """Two delivery workers, a bulk run adding chunks, and cancels (of messages and of a
    batch), all at once against one PostgreSQL database: the counters end equal to a count."""
    from egactl.server.app import create_app
    from tests.conftest import start_server

    # The API: a real server (its own delivery worker paused: no gateway configured).
    served = start_server(tmp_path, postgres_url, extra_env={"EGACTL_SMS_DRIVER": "msdg"})
    app = create_app(postgres_url)  # two more workers, in this process, on the real clock
    be = app.state.backend

    class Mixed(drivers.Driver):
        name = "mixed"
        chunk_size = 7

        def __init__(self):
            self.rng = random.Random(14)
            self.lock = threading.Lock()

        def send(self, sender, text, recipients, now):
            time.sleep(0.005)
            with self.lock:
                roll = self.rng.random()
            if roll < 0.6:
                return drivers.Outcome(drivers.ACCEPTED)
            if roll < 0.75:
                return drivers.Outcome(drivers.FAILED, "gateway refused the request: Invalid Request (48205)")
            if roll < 0.85:
                return drivers.Outcome(drivers.UNKNOWN, "timeout")
            return drivers.Outcome(drivers.RETRY, "gateway answered HTTP 503 Service Unavailable")

    be.overrides.update({"sms.driver": Mixed(), "sms.rate": 0, "sms.claim_size": 60, "sms.retry_seconds": 0,
                         "sms.max_attempts": 3})
    api = httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {served.admin_token}"}, timeout=60)
    try:
        assert served.run("institutions", "create", "RITA", "--name", "RITA", "--kind", "agency").returncode == 0
        assert served.run("sms", "senders", "request", "RITA", "-i", "RITA").returncode == 0
        assert served.run("sms", "senders", "approve", "RITA").returncode == 0
        quick = [api.post("/api/v1/sms/messages", json={
            "institution": "RITA", "to": [f"+2557547{q}{i:04d}" for i in range(150)], "text": f"Habari {q}"}).json()
            for q in range(3)]
        bulk = api.post("/api/v1/sms/batches", json={"institution": "RITA", "template": "Habari {name}",
                                                      "allow_quiet_hours": True}).json()
        errors: list[BaseException] = []
        stop = threading.Event()

        def guarded(fn):
            def run():
                try:
                    fn()
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)
            return run

        def deliver():
            while not stop.is_set():
                workers.tick(be)

        def add_chunks():
            for c in range(8):
                items = [{"line": c * 40 + i + 2, "to": f"07549{(c * 40 + i) % 300:05d}", "fields": {"name": "Mtu"}}
                         for i in range(40)]
                r = api.post(f"/api/v1/sms/batches/{bulk['id']}/recipients", json={"items": items})
                assert r.status_code in (200, 409), r.text

        def cancel():
            ids = [int(m["id"]) for q in quick for m in q["recipients"]]
            random.Random(1).shuffle(ids)
            for mid in ids[:60]:
                r = api.post(f"/api/v1/sms/messages/{mid}/cancel", json={})
                assert r.status_code in (200, 409), r.text
            r = api.post(f"/api/v1/sms/batches/{quick[2]['id']}/cancel", json={})
            assert r.status_code == 200, r.text
            r = api.post(f"/api/v1/sms/batches/{bulk['id']}/cancel", json={})
            assert r.status_code == 200, r.text

        threads = [threading.Thread(target=guarded(f)) for f in (deliver, deliver, add_chunks, cancel)]
        for t in threads:
            t.start()
        for t in threads[2:]:
            t.join()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with be.read_sessions() as s:
                if not s.scalar(select(func.count()).select_from(Message)
                                .where(Message.state.in_(("queued", "submitting")))):
                    break
            time.sleep(0.2)
        stop.set()
        for t in threads[:2]:
            t.join()
        assert errors == []
        states = check(be)
        assert sum(n for (_, st), n in states.items() if st == "cancelled") >= 1
        assert sum(n for (_, st), n in states.items() if st in ("submitted", "failed")) > 100
    finally:
        api.close()
        served.proc.terminate()
        served.proc.wait(timeout=10)
        be.engine.dispose()


def test_no_state_change_bypasses_the_counters():
    """Only egactl_sms.server.lifecycle sets a message's state in an UPDATE (``.values(state=…)``):
    a new code path that changed states directly would leave the counters wrong."""
    import ast
    from pathlib import Path

    import egactl_sms.server as server

    offenders = []
    for path in Path(server.__file__).parent.rglob("*.py"):
        if path.name == "lifecycle.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values":
                if any(k.arg == "state" for k in node.keywords):
                    offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "state"
                                                    for t in node.targets):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
