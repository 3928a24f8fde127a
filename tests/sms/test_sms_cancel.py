"""egactl sms cancel: queued and scheduled messages become cancelled, those handed to
the gateway are left alone and counted; a cancelled message is never sent, a
claimed one is never cancelled — on SQLite and PostgreSQL, against a worker
running at the same time."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import String, select
from typer.testing import CliRunner

from egactl_sms.server import drivers, workers
from egactl_sms.server.models import Batch, Message

NUMBERS = [f"07541000{i:02d}" for i in range(5)]


class Gateway(drivers.Driver):
    """Counts what it was handed; slow enough that a cancel can land mid-delivery."""

    name = "counting-gateway"
    chunk_size = 5

    def __init__(self, pause: float = 0.0):
        self.received: list[str] = []
        self.lock = threading.Lock()
        self.pause = pause

    def send(self, sender, text, recipients, now):
        if self.pause:
            time.sleep(self.pause)
        with self.lock:
            self.received += recipients
        return drivers.Outcome(drivers.ACCEPTED)


@pytest.fixture
def gateway():
    return Gateway()


@pytest.fixture
def backend_settings(gateway):
    return {"sms.driver": gateway, "sms.rate": 0, "sms.claim_size": 2, "sms.in_flight": 1, "sms.tick_seconds": 0}


@pytest.fixture
def sent(cli):
    """Batch 1: five messages, two of them already handed to the gateway."""
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    cli("sms", "senders", "approve", "RITA")
    r = cli("sms", "send", "--to", ",".join(NUMBERS), "-i", "RITA", "Kikao kimeahirishwa", role="operator")
    assert r.exit_code == 0, r.stderr


def states(backend, batch=1) -> Counter:
    with backend.read_sessions() as s:
        return Counter(s.scalars(select(Message.state).where(Message.batch_id == batch)))


def test_cancel_a_batch_leaves_what_the_gateway_has(cli, backend, gateway, sent):
    workers.tick(backend)  # one claim of two messages
    assert states(backend) == {"submitted": 2, "queued": 3}
    r = cli("sms", "cancel", "1", "--yes", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "Batch 1: cancelled 3 messages; 2 messages already handed to the gateway were left alone" in r.stderr
    assert states(backend) == {"submitted": 2, "cancelled": 3}
    for _ in range(3):
        workers.tick(backend)
    assert len(gateway.received) == 2  # nothing cancelled went out
    report = cli("sms", "report", "1", "-o", "json").json()
    assert report["states"]["cancelled"] == 3 and report["states"]["submitted"] == 2
    assert report["cancelled_by"] == "ops@rita.go.tz" and report["cancelled_at"]
    listed = cli("sms", "list", "--batch", "1", "--state", "cancelled", "-o", "json").json()
    assert len(listed) == 3 and {m["reason"] for m in listed} == {"cancelled by ops@rita.go.tz"}
    table = cli("sms", "report", "1")
    assert "CANCELLED" in table.stdout
    again = cli("sms", "cancel", "1", "--yes", "-o", "json", role="operator")
    assert again.exit_code == 0 and again.json()["cancelled"] == 0 and again.json()["handed_over"] == 2


def test_cancel_in_a_script_needs_yes_and_dry_run_changes_nothing(cli, backend, sent):
    r = cli("sms", "cancel", "1", role="operator")
    assert r.exit_code == 2 and "--yes" in r.stderr
    r = cli("sms", "cancel", "1", "--dry-run", role="operator")
    assert r.exit_code == 0 and "dry run: would cancel 5 messages of batch 1" in r.stderr
    assert states(backend) == {"queued": 5}
    r = cli("sms", "cancel", role="operator")
    assert r.exit_code == 2 and "give the batch to cancel" in r.stderr


def test_a_scheduled_send_cancelled_is_never_sent(cli, backend, clock, gateway):
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    cli("sms", "senders", "approve", "RITA")
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--at", "2026-11-23 09:00", "Habari", role="operator")
    assert r.exit_code == 0
    assert cli("sms", "cancel", "1", "-y", role="operator").exit_code == 0
    clock.advance(days=2)
    workers.tick(backend)
    assert gateway.received == [] and states(backend) == {"cancelled": 1}


def test_who_may_cancel(cli, backend, sent):
    r = cli("sms", "cancel", "1", "--yes", role="helpdesk")
    assert r.exit_code == 4 and "read-only" in r.stderr
    r = cli("sms", "cancel", "1", "--yes", role="operator_tra")
    assert r.exit_code == 4 and "RITA" in r.stderr
    r = cli("sms", "cancel", "--message", "1", "--yes", role="operator_tra")
    assert r.exit_code == 4
    assert states(backend) == {"queued": 5}
    assert cli("sms", "cancel", "99", "--yes", role="operator").exit_code == 3
    assert cli("sms", "cancel", "1", "--yes").exit_code == 0  # e-GA admin
    assert states(backend) == {"cancelled": 5}


def test_cancel_one_message(cli, backend, gateway, sent):
    workers.tick(backend)  # messages 1 and 2 are submitted
    r = cli("sms", "cancel", "--message", "3", "--yes", role="operator")
    assert r.exit_code == 0 and "Cancelled message 3" in r.stderr
    r = cli("sms", "cancel", "--message", "3", "--yes", role="operator")
    assert r.exit_code == 0 and "already cancelled" in r.stderr
    r = cli("sms", "cancel", "--message", "1", "--yes", role="operator")
    assert r.exit_code == 5
    assert r.stderr.strip().splitlines()[-1] == ("error: message 1 is submitted; it has been handed to the gateway "
                                                 "and cannot be called back")
    assert cli("sms", "cancel", "--message", "999", "--yes", role="operator").exit_code == 3
    for _ in range(3):
        workers.tick(backend)
    assert states(backend) == {"submitted": 4, "cancelled": 1}
    assert "+255754100002" not in gateway.received


def test_a_retried_message_of_a_cancelled_batch_is_not_sent_later(cli, backend, clock, gateway, sent, monkeypatch):
    calls = []

    def unreachable(sender, text, recipients, now):
        calls.append(recipients)
        return drivers.Outcome(drivers.RETRY, "gateway unreachable (ConnectError)")

    monkeypatch.setattr(gateway, "send", unreachable)
    workers.tick(backend)  # two messages claimed, the gateway down: they wait for a retry...
    assert cli("sms", "cancel", "1", "--yes", role="operator").exit_code == 0  # ...while the batch is cancelled
    assert states(backend) == {"cancelled": 5}
    monkeypatch.undo()
    clock.advance(minutes=5)
    for _ in range(3):
        workers.tick(backend)
    assert gateway.received == []


def test_cancel_stops_a_bulk_run_still_sending(app, cli, backend, tokens, tmp_path, monkeypatch):
    """The operator cancels while chunks are still arriving: later chunks are refused, nothing more is queued."""
    from egactl.cli import app as cli_app
    from egactl.context import Context
    from egactl.sandbox import SyncASGITransport
    from egactl_sms.commands import batches

    monkeypatch.setattr(batches, "CHUNK_SIZE", 3)
    monkeypatch.setattr(batches, "WORKERS", 1)
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    cli("sms", "senders", "approve", "RITA")
    path = tmp_path / "w.csv"
    path.write_text("phone,name\n" + "".join(f"07541{i:05d},Mtu {i}\n" for i in range(12)))

    class CancelAfterFirstChunk(httpx.BaseTransport):
        def __init__(self, inner):
            self.inner, self.chunks = inner, 0

        def handle_request(self, request):
            response = self.inner.handle_request(request)
            if request.method == "POST" and request.url.path.endswith("/recipients"):
                self.chunks += 1
                if self.chunks == 1:
                    assert cli("sms", "cancel", "1", "--yes", role="operator").exit_code == 0
            return response

        def close(self):
            pass

    ctx = Context(transport=CancelAfterFirstChunk(SyncASGITransport(app)), token=tokens["operator"],
                  sleep=lambda s: None)
    r = CliRunner().invoke(cli_app, ["sms", "bulk", str(path), "-i", "RITA", "--template", "Habari {name}"], obj=ctx)
    assert r.exit_code == 6, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        "error: batch 1 was cancelled by ops@rita.go.tz while this run was sending; 9 of 12 recipients were not "
        "queued; nothing more will be sent; to send the campaign anew, run the same command with --restart")
    assert states(backend) == {"cancelled": 3}
    with backend.read_sessions() as s:
        assert s.scalar(select(Batch.messages).where(Batch.id == 1)) == 3


# -- PostgreSQL: a cancel racing the delivery worker --------------------------------------


def _race(be, op_token, app, gateway, n: int) -> None:
    """Queue ``n`` messages, run two workers, cancel in the middle; check nothing is both."""
    from egactl.cli import app as cli_app
    from egactl.context import Context
    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)

    def run(*args):
        r = CliRunner().invoke(cli_app, list(args), obj=Context(transport=transport, token=op_token,
                                                                sleep=lambda s: None))
        assert r.exit_code == 0, r.stderr
        return r

    numbers = [f"+2557542{i:05d}" for i in range(n)]
    run("sms", "send", "--to", ",".join(numbers), "-i", "RITA", "Kikao cha dharura")
    be.overrides["sms.driver"] = gateway
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker():
        try:
            while not stop.is_set():
                workers.tick(be)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while len(gateway.received) < n // 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        out = run("sms", "cancel", "1", "--yes", "-o", "json")
    finally:
        stop.set()
        for t in threads:
            t.join()
        transport.close()
    assert errors == []
    import json

    answer = json.loads(out.stdout)
    with be.read_sessions() as s:
        rows = dict(s.execute(select(Message.recipient, Message.state)).all())
    got = Counter(gateway.received)
    cancelled = {r for r, st in rows.items() if st == "cancelled"}
    assert set(got.values()) == {1}                               # nothing twice
    assert cancelled.isdisjoint(got)                              # a cancelled message never went out
    assert {r for r, st in rows.items() if st == "submitted"} == set(got)  # a claimed one was never cancelled
    assert set(rows.values()) <= {"submitted", "cancelled"} and len(rows) == n
    assert answer["cancelled"] == len(cancelled) > 0
    assert 0 < len(got) < n


def test_cancel_racing_the_worker(app, backend, tokens):
    from egactl_sms.server.models import Sender

    with backend.write_sessions() as s:
        s.add(Sender(institution="RITA", name="RITA", name_key="RITA", status="approved", requested_by="t",
                     requested_at=backend.now(), version=1))
        s.commit()
    backend.overrides["sms.claim_size"] = 20
    _race(backend, tokens["operator"], app, Gateway(pause=0.002), 600)


def test_cancel_racing_the_worker_on_postgresql(postgres_url):
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core
    from egactl_sms.server.models import Sender

    app = create_app(postgres_url, clock=FakeClock(), settings={"sms.rate": 0, "sms.claim_size": 20})
    be = app.state.backend
    with be.write_sessions() as s:
        seed_core(s, be.now())
        op, _ = issue_token(s, subject="ops@rita.go.tz", role="operator", institutions=["RITA"], now=be.now())
        s.add(Sender(institution="RITA", name="RITA", name_key="RITA", status="approved", requested_by="t",
                     requested_at=be.now(), version=1))
        s.commit()
    try:
        _race(be, op, app, Gateway(pause=0.002), 600)
    finally:
        be.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'race.db'}"
    return request.getfixturevalue("postgres_url")


def test_chunks_racing_a_cancel(database_url):
    """Recipient chunks still arriving while the batch is cancelled: none of them stays queued."""
    from concurrent.futures import ThreadPoolExecutor

    from egactl.sandbox import SyncASGITransport
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core
    from egactl_sms.server.models import Sender

    app = create_app(database_url, clock=FakeClock(), settings={"sms.rate": 0})
    be = app.state.backend
    with be.write_sessions() as s:
        seed_core(s, be.now())
        op, _ = issue_token(s, subject="ops@rita.go.tz", role="operator", institutions=["RITA"], now=be.now())
        s.add(Sender(institution="RITA", name="RITA", name_key="RITA", status="approved", requested_by="t",
                     requested_at=be.now(), version=1))
        s.commit()
    transport = SyncASGITransport(app)
    client = httpx.Client(transport=transport, base_url="http://egactl", headers={"Authorization": f"Bearer {op}"})
    try:
        batch = client.post("/api/v1/sms/batches", json={"institution": "RITA", "template": "Habari {name}",
                                                         "at": "2026-11-23T09:00:00+03:00"},
                            headers={"Idempotency-Key": "b"}).json()["id"]

        def chunk(i):
            items = [{"line": i * 200 + j, "to": f"07543{i * 200 + j:05d}", "fields": {"name": "x"}} for j in range(200)]
            return client.post(f"/api/v1/sms/batches/{batch}/recipients", json={"items": items},
                               headers={"Idempotency-Key": f"c{i}"}).status_code

        with ThreadPoolExecutor(6) as pool:
            racing = [pool.submit(chunk, i) for i in range(30)]  # some before the cancel, some during, some after
            while not any(f.done() for f in racing):
                time.sleep(0.001)
            cancelled = client.post(f"/api/v1/sms/batches/{batch}/cancel", json={},
                                    headers={"Idempotency-Key": "x"})
            codes = Counter(f.result() for f in racing)
            after = Counter(f.result() for f in [pool.submit(chunk, i) for i in range(30, 36)])
        assert cancelled.status_code == 200, cancelled.text
        assert after == {409: 6}
        # 503: the database stayed busy for one request (SQLite), so it stored nothing; a client retries it.
        assert set(codes) <= {200, 409, 503} and codes[200] > 0, codes
        with be.read_sessions() as s:
            by_state = Counter(s.scalars(select(Message.state).where(Message.batch_id == batch)))
            total = s.scalar(select(Batch.messages).where(Batch.id == batch))
        assert "queued" not in by_state
        assert by_state["cancelled"] == total == 200 * codes[200]
    finally:
        client.close()
        transport.close()
        be.engine.dispose()


def test_the_columns_that_hold_who_cancelled_say_they_hold_a_staff_account(cli, backend, gateway, sent):
    # "cancelled by ops@rita.go.tz" is a staff account: the column keeping it must say so
    # (egactl.plugin.personal), not that it is nobody's.
    assert cli("sms", "cancel", "1", "--yes", role="operator").exit_code == 0
    holding = []
    with backend.read_sessions() as s:
        for column in Message.__table__.columns:
            if s.scalar(select(Message.id).where(column.cast(String).contains("ops@rita.go.tz")).limit(1)) is not None:
                holding.append(column)
    assert holding and all(c.info.get("personal") == "email" for c in holding), [(c.name, c.info) for c in holding]
