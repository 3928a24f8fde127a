"""sms over real HTTP: a bulk run killed halfway against `egactl serve`, then resumed.

Each recipient must get exactly one message: counted in what the server's
delivery worker handed to its (outbox) driver.
"""

from __future__ import annotations

import csv
import json
import time

import pytest
from sqlalchemy import create_engine, func, select

from egactl_sms.server.models import Batch, Message, OutboxEntry
from egactl_sms.commands.batches import CHUNK_SIZE as CHUNK

ROWS = 12_000
TEMPLATE = "Habari {name}, chanjo ya surua ni tarehe {date}. Fika kituo cha afya kilicho karibu nawe."


def count(engine, stmt) -> int:
    with engine.connect() as c:
        return c.execute(stmt).scalar() or 0


@pytest.fixture
def operator(served):
    r = served.run("institutions", "create", "RITA", "--name", "Registration Insolvency and Trusteeship Agency",
                   "--kind", "agency")
    assert r.returncode == 0, r.stderr
    token = served.token("operator", "RITA", subject="ops@rita.go.tz")
    assert served.run("sms", "senders", "request", "RITA", "-i", "RITA", token=token).returncode == 0
    assert served.run("sms", "senders", "approve", "RITA").returncode == 0
    return token


def test_bulk_killed_halfway_then_resumed_sends_each_recipient_once(served, operator, tmp_path):
    path = tmp_path / "chanjo.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "name", "date"])
        for i in range(ROWS):
            w.writerow([f"0754{i:06d}", f"Mzazi {i}", "2026-12-01"])
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--allow-quiet-hours", "-o", "json")
    engine = create_engine(served.database_url)
    try:
        proc = served.popen(*args, token=operator)
        deadline = time.monotonic() + 90
        while count(engine, select(func.count()).select_from(Message)) < 2 * CHUNK:
            assert proc.poll() is None, f"the run ended before any chunk was stored: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no chunk was stored in 90 s"
            time.sleep(0.05)
        if proc.poll() is not None:
            pytest.fail("the bulk run finished before it could be killed; make the file bigger")
        proc.kill()
        proc.wait(timeout=30)
        stored = count(engine, select(func.count()).select_from(Message))
        assert 0 < stored < ROWS

        r = served.run(*args, "--resume", token=operator, timeout=300)
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout)
        # Chunks the killed run had finished are skipped; the rest (including any the
        # server committed but the killed client never heard of) are answered "queued"
        # again from the idempotency store or stored now. Nothing is new twice.
        assert summary["failed"] == 0 and set(summary["statuses"]) == {"queued"}
        assert summary["statuses"]["queued"] + summary["resumed_chunks"] * CHUNK == ROWS
        assert count(engine, select(func.count()).select_from(Batch)) == 1

        deadline = time.monotonic() + 120
        while count(engine, select(func.count()).select_from(OutboxEntry)) < ROWS:
            assert time.monotonic() < deadline, "the delivery worker did not finish in 120 s"
            time.sleep(0.2)
        time.sleep(1.5)  # one more worker round: anything sent twice would show now
        assert count(engine, select(func.count()).select_from(Message)) == ROWS
        assert count(engine, select(func.count(func.distinct(Message.recipient)))) == ROWS
        assert count(engine, select(func.count()).select_from(OutboxEntry)) == ROWS
        assert count(engine, select(func.count(func.distinct(OutboxEntry.recipient)))) == ROWS
    finally:
        engine.dispose()
