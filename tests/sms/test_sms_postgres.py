"""sms on PostgreSQL: the same sends, and two delivery workers (two API processes
sharing one database) never claiming the same message."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from egactl_sms.server import drivers, workers
from egactl_sms.server.models import Message, OutboxEntry


class SlowGateway(drivers.Driver):
    name = "slow-gateway"
    chunk_size = 5

    def __init__(self):
        self.received: list[str] = []
        self.lock = threading.Lock()

    def send(self, sender, text, recipients, now):
        import time

        time.sleep(0.01)
        with self.lock:
            self.received += recipients
        return drivers.Outcome(drivers.ACCEPTED)


@pytest.fixture
def pg(postgres_url):
    from egactl.sandbox import SyncASGITransport
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core

    gateway = SlowGateway()
    app = create_app(postgres_url, clock=FakeClock(), settings={"sms.rate": 0, "sms.claim_size": 40})
    be = app.state.backend
    with be.write_sessions() as s:
        seed_core(s, be.now())
        admin, _ = issue_token(s, subject="admin@ega.go.tz", role="admin", now=be.now())
        op, _ = issue_token(s, subject="ops@rita.go.tz", role="operator", institutions=["RITA"], now=be.now())
        s.commit()
    transport = SyncASGITransport(app)

    def run(*args, token=op):
        from egactl.cli import app as cli_app
        from egactl.context import Context

        r = CliRunner().invoke(cli_app, list(args), obj=Context(transport=transport, token=token, sleep=lambda s: None))
        assert r.exit_code == 0, r.stderr
        return r

    run("sms", "senders", "request", "RITA", "-i", "RITA")
    run("sms", "senders", "approve", "RITA", token=admin)
    yield be, run, gateway
    transport.close()
    be.engine.dispose()


def test_sends_and_outbox_on_postgresql(pg, tmp_path):
    be, run, _ = pg
    run("sms", "send", "--to", "0754123456,0754123456,0655123456", "-i", "RITA", "Habari")
    path = tmp_path / "w.csv"
    path.write_text("phone,name\n" + "".join(f"07541{i:05d},Mtu {i}\n" for i in range(30)) + "0754100000,Mtu 0\n")
    run("sms", "bulk", str(path), "-i", "RITA", "--template", "Habari {name}")
    be.run_workers()
    with be.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 32
        assert Counter(s.scalars(select(OutboxEntry.recipient))).most_common(1)[0][1] == 1


def test_two_workers_never_claim_the_same_message(pg):
    be, run, gateway = pg
    be.overrides["sms.driver"] = gateway
    numbers = ",".join(f"07542{i:05d}" for i in range(200))
    run("sms", "send", "--to", numbers, "-i", "RITA", "Kikao cha dharura saa nane mchana")
    errors = []

    def worker():
        try:
            for _ in range(10):
                workers.tick(be)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    counts = Counter(gateway.received)
    assert len(counts) == 200 and set(counts.values()) == {1}
    with be.read_sessions() as s:
        assert set(s.scalars(select(Message.state))) == {"submitted"}


def test_an_opt_out_added_meanwhile_is_the_same_outcome_on_postgresql(pg, monkeypatch):
    """Two adds of one opt-out at once: the one that finds the other's row already
    committed (after its own look-up missed it) answers "already", stores no second row
    and writes no second audit entry."""
    from sqlalchemy import text

    from egactl_sms.server.models import OptOut
    from egactl_sms.server.routes import optouts

    be, run, _ = pg
    real_insert_unique = optouts.insert_unique

    def another_request_first(row, conflict):
        with be.engine.begin() as c:
            c.execute(text("INSERT INTO sms_optouts (institution, phone, reason, created_by, created_at) "
                           "VALUES ('RITA', :p, 'replied STOP', 'other', :t)"), {"p": row.phone, "t": row.created_at})
        return real_insert_unique(row, conflict)

    monkeypatch.setattr(optouts, "insert_unique", another_request_first)
    r = run("sms", "optout", "create", "0754123456", "-i", "RITA", "--reason", "asked by phone")
    assert "+255754123456 had already opted out of RITA's messages" in r.stderr + r.stdout
    with be.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(OptOut)) == 1
        assert s.scalar(text("SELECT count(*) FROM core_audit WHERE resource_type = 'sms-optout'")) == 0
