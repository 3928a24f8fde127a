"""sms bulk: CSV campaigns through the core's bulk machinery, including the faults
that must neither lose nor repeat a message."""

from __future__ import annotations

import csv
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from egactl_sms.server.models import Batch, Message, OutboxEntry


@pytest.fixture
def sender(cli):
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    assert cli("sms", "senders", "approve", "RITA").exit_code == 0
    return "RITA"


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 rows, so a dozen rows make several POSTs."""
    from egactl_sms.commands import batches

    monkeypatch.setattr(batches, "CHUNK_SIZE", 3)


def write_csv(path, rows, header=("phone", "name", "amount")):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def people(n, start=0):
    return [(f"07541{i:05d}", f"Mwananchi {i}", str(1000 + i)) for i in range(start, start + n)]


TEMPLATE = "Habari {name}, deni lako ni TZS {amount}. Lipa kabla ya tarehe 30."


def stored(backend):
    with backend.read_sessions() as s:
        return s.scalars(select(Message).order_by(Message.id)).all()


def delivered_per_recipient(backend) -> Counter:
    backend.run_workers()
    with backend.read_sessions() as s:
        return Counter(s.scalars(select(OutboxEntry.recipient)))


def run_with_transport(app, token, transport, *args):
    """Run egactl with the given HTTP transport in front of the test backend."""
    from egactl.cli import app as cli_app
    from egactl.context import Context

    ctx = Context(transport=transport, token=token, sleep=lambda s: None)
    return CliRunner().invoke(cli_app, list(args), obj=ctx)


def test_bulk_personalises_dedupes_and_writes_results(cli, backend, sender, small_chunks, tmp_path, monkeypatch):
    from egactl_sms.commands import batches

    monkeypatch.setattr(batches, "WORKERS", 1)  # chunks in file order, so the later copy is the duplicate
    rows = people(10) + [people(1)[0]]  # the first person twice: sent once
    path = write_csv(tmp_path / "wananchi.csv", rows)
    results = tmp_path / "out.csv"
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--results", str(results), "-o", "json",
            role="operator")
    assert r.exit_code == 0, r.stderr
    out = r.json()
    assert out["rows"] == 11 and out["failed"] == 0 and out["statuses"] == {"queued": 10, "duplicate": 1}
    msgs = stored(backend)
    assert len(msgs) == 10 and len({m.recipient for m in msgs}) == 10
    first = msgs[0]
    assert first.line == 2 and first.recipient == "+255754100000"
    assert first.body == "Habari Mwananchi 0, deni lako ni TZS 1000. Lipa kabla ya tarehe 30."
    with open(results, encoding="utf-8") as fh:
        res = list(csv.DictReader(fh))
    assert Counter(x["status"] for x in res) == {"queued": 10, "duplicate": 1}
    assert {x["line"] for x in res if x["status"] == "duplicate"} == {"12"}
    with backend.read_sessions() as s:
        batch = s.scalar(select(Batch))
    assert (batch.kind, batch.messages, batch.duplicates, batch.source) == ("bulk", 10, 1, "wananchi.csv")
    assert delivered_per_recipient(backend) == Counter({m.recipient: 1 for m in msgs})


def test_missing_template_column_is_an_error_before_anything_is_sent(cli, backend, sender, tmp_path):
    path = write_csv(tmp_path / "w.csv", people(3))
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--template", "Habari {jina}", role="operator")
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines()[-1] == "error: " + str(path) + ": missing column jina (the header has: phone, name, amount)"
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch)) == 0


def test_invalid_rows_are_reported_by_line_and_nothing_is_sent(cli, backend, sender, tmp_path):
    rows = people(3) + [("0222123456", "Ofisi", "1"), ("064123456", "Fupi", "2")]
    path = write_csv(tmp_path / "w.csv", rows)
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, role="operator")
    assert r.exit_code == 2
    assert "w.csv: line 5: invalid number 0222123456: a landline (fixed-line) number, not a mobile number" in r.stderr
    assert "w.csv: line 6: invalid number 064123456: too short" in r.stderr
    assert "2 invalid rows of 5; nothing was sent" in r.stderr
    assert stored(backend) == []
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--skip-invalid", role="operator")
    assert r.exit_code == 0, r.stderr
    assert len(stored(backend)) == 3


def test_unapproved_sender_stops_the_run_before_any_row(cli, backend, sender, tmp_path):
    cli("sms", "senders", "request", "RITA NEWS", "-i", "RITA", role="operator")
    path = write_csv(tmp_path / "w.csv", people(3))
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--from", "RITA NEWS", "--template", TEMPLATE, role="operator")
    assert r.exit_code == 2 and "sender ID RITA NEWS is not approved" in r.stderr
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--at", "2026-11-21 09:00", role="operator")
    assert r.exit_code == 2 and "is in the past" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch)) == 0


def test_dry_run_estimates_with_opt_outs_duplicates_and_encodings(cli, backend, sender, tmp_path):
    cli("sms", "optout", "create", "0754100001", "-i", "RITA", role="operator")
    rows = people(4) + [people(1)[0], ("0754100009", "Neema’s wa Dodoma Mjini", "5")]
    path = write_csv(tmp_path / "w.csv", rows)
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--dry-run", "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    est = r.json()
    assert (est["rows"], est["duplicates"], est["opted_out"], est["recipients"]) == (6, 1, 1, 4)
    assert est["encodings"] == {"GSM-7": 3, "UCS-2": 1}
    assert est["segments"] == {"1": 3, "2": 1}
    assert est["total_segments"] == 5 and est["estimated_cost"] == 5 * est["price_per_segment"]
    assert r.stderr == ""  # -o json: stderr only for the JSON of a failure
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--dry-run", role="operator")
    assert "warning: 1 message will be sent as UCS-2" in r.stderr and "’ (U+2019)" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch)) == 0


def test_bulk_in_quiet_hours_waits_until_seven(cli, backend, clock, sender, tmp_path):
    clock.advance(hours=10)  # 22:00 EAT
    path = write_csv(tmp_path / "w.csv", people(2))
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, role="operator")
    assert r.exit_code == 0, r.stderr
    assert "delivery starts 2026-11-23 07:00 EAT" in r.stderr
    backend.run_workers()
    assert {m.state for m in stored(backend)} == {"queued"}


class DropAfterCommit(httpx.BaseTransport):
    """Forwards to the real backend, then loses the answer to one recipients
    chunk: the server committed it, the client never heard."""

    def __init__(self, inner, drop_chunk: int):
        self.inner = inner
        self.drop_chunk = drop_chunk
        self.chunk_posts: list[str] = []
        self.replayed = 0

    def handle_request(self, request):
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/recipients"):
            self.chunk_posts.append(request.headers["Idempotency-Key"])
            if response.headers.get("Idempotent-Replayed") == "true":
                self.replayed += 1
            if len(self.chunk_posts) == self.drop_chunk:
                raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self):
        pass


def test_dropped_connection_after_commit_sends_each_recipient_once(app, backend, tokens, sender, small_chunks,
                                                                   tmp_path, monkeypatch):
    from egactl.sandbox import SyncASGITransport
    from egactl_sms.commands import batches

    monkeypatch.setattr(batches, "WORKERS", 1)  # chunk order is then the POST order
    path = write_csv(tmp_path / "w.csv", people(12))
    results = tmp_path / "res.csv"
    transport = DropAfterCommit(SyncASGITransport(app), drop_chunk=2)
    r = run_with_transport(app, tokens["operator"], transport, "sms", "bulk", str(path), "-i", "RITA",
                           "--template", TEMPLATE, "--results", str(results))
    assert r.exit_code == 0, r.stderr
    # Chunk 2 went twice with one key; the second answer came from the idempotency store.
    assert len(transport.chunk_posts) == 5 and transport.chunk_posts[1] == transport.chunk_posts[2]
    assert transport.replayed == 1
    with open(results, encoding="utf-8") as fh:
        assert Counter(x["status"] for x in csv.DictReader(fh)) == {"queued": 12}
    received = delivered_per_recipient(backend)
    assert len(received) == 12 and set(received.values()) == {1}


class DownAfter(httpx.BaseTransport):
    """The backend becomes unreachable after ``n`` recipient chunks (the client gives up)."""

    def __init__(self, inner, n: int):
        self.inner, self.n, self.seen = inner, n, 0

    def handle_request(self, request):
        if request.method == "POST" and request.url.path.endswith("/recipients"):
            self.seen += 1
            if self.seen > self.n:
                raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)

    def close(self):
        pass


def test_interrupted_run_resumes_into_the_same_batch(app, backend, tokens, sender, small_chunks, tmp_path,
                                                     monkeypatch):
    from egactl.sandbox import SyncASGITransport
    from egactl_sms.commands import batches

    monkeypatch.setattr(batches, "WORKERS", 1)
    path = write_csv(tmp_path / "w.csv", people(14))
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE)
    r = run_with_transport(app, tokens["operator"], DownAfter(SyncASGITransport(app), 2), *args)
    assert r.exit_code == 7, r.stderr
    assert "--resume" in r.stderr
    assert len(stored(backend)) == 6
    backend.run_workers()  # the first half is already delivered
    r = run_with_transport(app, tokens["operator"], SyncASGITransport(app), *args)
    assert r.exit_code == 2 and "--resume" in r.stderr  # an interrupted run must be resumed or restarted
    r = run_with_transport(app, tokens["operator"], SyncASGITransport(app), *args, "--resume", "-o", "json")
    assert r.exit_code == 0, r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch)) == 1
    received = delivered_per_recipient(backend)
    assert len(received) == 14 and set(received.values()) == {1}


def test_resume_after_the_scheduled_time_has_passed(app, backend, clock, tokens, sender, small_chunks, tmp_path,
                                                     monkeypatch):
    from egactl.sandbox import SyncASGITransport
    from egactl_sms.commands import batches

    monkeypatch.setattr(batches, "WORKERS", 1)
    path = write_csv(tmp_path / "w.csv", people(9))
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--at", "2026-11-22 13:00")
    r = run_with_transport(app, tokens["operator"], DownAfter(SyncASGITransport(app), 1), *args)
    assert r.exit_code == 7, r.stderr
    clock.advance(hours=2)  # 14:00 EAT: the batch's time is now in the past
    r = run_with_transport(app, tokens["operator"], SyncASGITransport(app), *args, "--resume")
    assert r.exit_code == 0, r.stderr
    received = delivered_per_recipient(backend)
    assert len(received) == 9 and set(received.values()) == {1}
