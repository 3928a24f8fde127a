"""sms delivery worker: a worker that dies mid-batch and restarts sends each message once.

The driver here stands in for a gateway: it counts what it received. Dying is a
BaseException (like the process being killed), so none of the worker's ordinary
error handling runs — recovery must come from the database alone.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from egactl_sms.server import drivers, workers
from egactl_sms.server.models import Message, OutboxEntry

NUMBERS = [f"07541000{i:02d}" for i in range(7)]


class WorkerKilled(BaseException):
    """The process died here."""


class CountingGateway(drivers.Driver):
    name = "counting-gateway"
    chunk_size = 2

    def __init__(self):
        self.received: list[str] = []
        self.calls = 0
        self.die_on_call: int | None = None
        self.die_after_accepting: int | None = None

    def send(self, sender, text, recipients, now):
        self.calls += 1
        if self.calls == self.die_on_call:
            raise WorkerKilled
        self.received += recipients
        if self.calls == self.die_after_accepting:
            raise WorkerKilled
        return drivers.Outcome(drivers.ACCEPTED, ref=f"gw-{self.calls}")


@pytest.fixture
def gateway():
    return CountingGateway()


@pytest.fixture
def backend_settings(gateway):
    return {"sms.driver": gateway, "sms.rate": 0, "sms.lease_seconds": 300, "sms.in_flight": 1}


@pytest.fixture
def queued(cli):
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    cli("sms", "senders", "approve", "RITA")
    r = cli("sms", "send", "--to", ",".join(NUMBERS), "-i", "RITA", "Chanjo ya polio ni kesho", role="operator")
    assert r.exit_code == 0, r.stderr


def states(backend) -> dict[str, tuple[str, str | None]]:
    with backend.read_sessions() as s:
        return {m.recipient: (m.state, m.reason) for m in s.scalars(select(Message))}


def test_death_after_the_gateway_accepted_a_chunk(backend, clock, gateway, queued):
    gateway.die_after_accepting = 2
    with pytest.raises(WorkerKilled):
        workers.tick(backend)
    assert len(gateway.received) == 4
    gateway.die_after_accepting = None
    assert workers.tick(backend) == 0            # the claims are still the dead worker's
    clock.advance(seconds=301)                    # its lease runs out; a new worker recovers
    workers.tick(backend)
    counts = Counter(gateway.received)
    assert sorted(counts) == sorted("+255" + n[1:] for n in NUMBERS) and set(counts.values()) == {1}
    final = states(backend)
    unknown = [r for r, (st, why) in final.items() if st == "failed"]
    assert len(unknown) == 2 and all(final[r][1] == workers.UNKNOWN_OUTCOME for r in unknown)
    assert set(unknown) == set(gateway.received[2:4])   # the chunk in flight: received, but not resent
    assert sum(st == "submitted" for st, _ in final.values()) == 5


def test_death_between_chunks(backend, clock, gateway, queued, monkeypatch):
    real_record = workers._record
    recorded = []

    def record_then_die(*args, **kwargs):
        real_record(*args, **kwargs)
        recorded.append(1)
        if len(recorded) == 2:
            raise WorkerKilled

    monkeypatch.setattr(workers, "_record", record_then_die)
    with pytest.raises(WorkerKilled):
        workers.tick(backend)
    monkeypatch.setattr(workers, "_record", real_record)
    clock.advance(seconds=301)
    workers.tick(backend)
    counts = Counter(gateway.received)
    assert len(counts) == 7 and set(counts.values()) == {1}
    assert {st for st, _ in states(backend).values()} == {"submitted"}


def test_death_during_handover_is_never_resent(backend, clock, gateway, queued):
    """The exactly-once boundary: a chunk marked dispatched whose outcome was never
    recorded is not sent again (the MSDG contract has no idempotency reference);
    it is reported as failed with an unknown outcome instead."""
    gateway.die_on_call = 3
    with pytest.raises(WorkerKilled):
        workers.tick(backend)
    gateway.die_on_call = None
    clock.advance(seconds=301)
    workers.tick(backend)
    assert len(gateway.received) == 5 and len(set(gateway.received)) == 5
    failed = [r for r, (st, why) in states(backend).items() if st == "failed"]
    assert len(failed) == 2 and not set(failed) & set(gateway.received)


def test_an_ordinary_driver_error_requeues_what_was_not_handed_over(backend, clock, gateway, queued):
    calls = []

    def broken(sender, text, recipients, now):
        calls.append(recipients)
        raise RuntimeError("driver bug")

    gateway.send = broken
    with pytest.raises(RuntimeError):
        workers.tick(backend)
    st = Counter(s for s, _ in states(backend).values())
    assert st == {"queued": 5, "submitting": 2}     # only the chunk in the driver's hands waits for recovery
    del gateway.send
    workers.tick(backend)
    assert Counter(s for s, _ in states(backend).values()) == {"submitted": 5, "submitting": 2}


class DyingOutbox(drivers.OutboxDriver):
    def __init__(self):
        self.die = True

    def record(self, session, messages, now):
        super().record(session, messages, now)
        if self.die:
            raise WorkerKilled


def test_outbox_driver_is_exactly_once_by_transaction(app, backend, cli, monkeypatch):
    outbox = DyingOutbox()
    monkeypatch.setitem(backend.overrides, "sms.driver", outbox)
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    cli("sms", "senders", "approve", "RITA")
    cli("sms", "send", "--to", ",".join(NUMBERS), "-i", "RITA", "Habari", role="operator")
    with pytest.raises(WorkerKilled):
        workers.tick(backend)
    with backend.read_sessions() as s:
        assert s.scalars(select(OutboxEntry)).all() == []
    outbox.die = False
    workers.tick(backend)
    with backend.read_sessions() as s:
        counts = Counter(s.scalars(select(OutboxEntry.recipient)))
    assert len(counts) == 7 and set(counts.values()) == {1}
    assert {st for st, _ in states(backend).values()} == {"delivered"}
