"""Two `egactl serve` processes on one PostgreSQL database deliver as one.

Both run their delivery workers against the loopback MSDG gateway (answering in
50 ms). A bulk campaign is sent through one of them; midway that server is killed
with SIGKILL. What the gateway saw must show:

- every recipient at most once, and every recipient not seen accounted for: the
  messages of the killed server's requests in flight are ``failed`` with the
  "outcome unknown" reason, never resent, and no more of them than its in-flight
  requests hold (``in_flight`` x ``msdg_chunk``); everything else was delivered once;
- never more than the configured rate in any second of the gateway's clock, counting
  both servers together (each alone enforcing the rate would have sent twice it), for
  every request whose trip was shorter than the rate's guard, and in any second of
  dispatch for every request (the trip is measured: from the message's ``dispatched_at``
  to its arrival).
"""

from __future__ import annotations

import csv
import os
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select

from egactl_sms.server.models import Message
from egactl_sms.server.workers import UNKNOWN_OUTCOME
from tests.sms.msdg_gateway import ACCOUNT, KEY, SERVICE_ID, Gateway

RATE = 200
CHUNK = 20
IN_FLIGHT = 4
GUARD = 0.5
RECIPIENTS = 3000
TEXT = "Chanjo ya surua ni tarehe {date}. Fika kituo cha afya kilicho karibu nawe."


@pytest.fixture
def gateway():
    gw = Gateway(KEY)
    gw.delay = 0.05
    yield gw
    gw.close()


def test_two_servers_share_the_rate_and_a_killed_one_loses_only_its_requests_in_flight(tmp_path, postgres_url,
                                                                                     gateway):
    from tests.conftest import start_server

    env = {"EGACTL_SMS_DRIVER": "msdg", "EGACTL_SMS_MSDG_URL": gateway.url, "EGACTL_SMS_MSDG_API_KEY": KEY,
           "EGACTL_SMS_MSDG_ACCOUNT": ACCOUNT, "EGACTL_SMS_MSDG_SERVICE_ID": SERVICE_ID,
           "EGACTL_SMS_MSDG_CHUNK": str(CHUNK), "EGACTL_SMS_RATE": str(RATE), "EGACTL_SMS_IN_FLIGHT": str(IN_FLIGHT),
           "EGACTL_SMS_LEASE_SECONDS": "3",
           # grants in the first half of each second: a request has 500 ms to arrive in its second,
           # enough for a loaded test machine (the default, 250 ms, is for a server with its own CPUs)
           "EGACTL_SMS_RATE_GUARD": str(GUARD)}
    servers = [start_server(tmp_path / "a", postgres_url, env), start_server(tmp_path / "b", postgres_url, env)]
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        a = servers[0]
        assert a.run("institutions", "create", "RITA", "--name", "RITA", "--kind", "agency").returncode == 0
        assert a.run("sms", "senders", "request", "RITA", "-i", "RITA").returncode == 0
        assert a.run("sms", "senders", "approve", "RITA").returncode == 0
        path = tmp_path / "surua.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["phone", "date"])
            for i in range(RECIPIENTS):
                w.writerow([f"0754{i:06d}", "2026-12-01"])
        r = a.run("sms", "bulk", str(path), "-i", "RITA", "--template", TEXT, "--allow-quiet-hours", "-o", "json",
                  timeout=300)
        assert r.returncode == 0, r.stderr

        deadline = time.monotonic() + 120
        while sum(n for _, n in gateway.arrivals) < RECIPIENTS // 3:
            assert time.monotonic() < deadline, "delivery did not start"
            time.sleep(0.05)
        os.kill(a.proc.pid, signal.SIGKILL)  # mid-delivery, requests in flight
        a.proc.wait(timeout=30)

        deadline = time.monotonic() + 180
        while True:
            with engine.connect() as c:
                left = c.execute(select(func.count()).select_from(Message)
                                 .where(Message.state.in_(("queued", "submitting")))).scalar()
            if not left:
                break
            assert time.monotonic() < deadline, f"{left} messages still waiting after 180 s"
            time.sleep(0.2)
        time.sleep(1.0)  # a last worker round: anything sent twice would show now

        received = Counter(r for p in gateway.requests for r in p["recipients"].split(","))
        assert max(received.values()) == 1, "a recipient got the campaign twice"
        with engine.connect() as c:
            rows = c.execute(select(Message.recipient, Message.state, Message.reason)).all()
        assert len(rows) == RECIPIENTS
        states = Counter(st for _, st, _ in rows)
        assert set(states) <= {"submitted", "failed"}, states
        unknown = {rcpt.lstrip("+") for rcpt, st, why in rows if st == "failed"}
        assert all(why == UNKNOWN_OUTCOME for _, st, why in rows if st == "failed")
        assert len(unknown) <= IN_FLIGHT * CHUNK
        submitted = {rcpt.lstrip("+") for rcpt, st, _ in rows if st == "submitted"}
        assert submitted <= set(received)              # each delivered one was received, once
        assert set(received) - submitted <= unknown      # anything else received was in flight at the kill

        # The rate at the gateway. Each request's recipients were recorded as dispatched (on the
        # servers' clock, this machine's) in the second of the grant that let it go: per second of
        # dispatch, no more than the rate, without exception. Counted by arrival at the gateway,
        # the same holds for every request whose trip (dispatch to arrival) was shorter than the
        # guard; a longer trip (this machine starved of CPU) is the documented limit, and such a
        # request is counted in its grant's second. (That grants close with the guard is
        # test_sms_rate's: here the rate is spent early in each second.)
        with engine.connect() as c:
            dispatched = {rcpt.lstrip("+"): at.timestamp() for rcpt, at in
                          c.execute(select(Message.recipient, Message.dispatched_at)).all() if at is not None}
        per_dispatch, per_arrival, late = Counter(), Counter(), []
        for (arrived, n), request in zip(gateway.arrivals, gateway.requests):
            sent = max(dispatched[r] for r in request["recipients"].split(","))
            assert arrived >= sent
            per_dispatch[int(sent)] += n
            if arrived - sent >= GUARD:
                late.append(round(arrived - sent, 3))
                per_arrival[int(sent)] += n
            else:
                per_arrival[int(arrived)] += n
        assert max(per_dispatch.values()) <= RATE, sorted(per_dispatch.items())
        assert max(per_arrival.values()) <= RATE, (sorted(per_arrival.items()), late)
        assert len(late) <= len(gateway.requests) // 10, late  # the guard bounds nearly every trip
        assert max(per_arrival.values()) >= RATE // 2  # and the rate was actually used
    finally:
        engine.dispose()
        for s in servers:
            if s.proc.poll() is None:
                s.proc.terminate()
                s.proc.wait(timeout=15)
