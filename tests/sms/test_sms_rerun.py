"""A campaign is never sent twice: an identical bulk run or group send is refused
by the server (exit 5, naming the earlier batch) unless --again; --resume of a
finished run only reports it; --restart cancels the interrupted batch's unsent
messages first; a file without recipients stores nothing."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from egactl_sms.server.models import Batch, Message, OutboxEntry
from test_sms_bulk import TEMPLATE, DownAfter, people, write_csv


@pytest.fixture
def sender(cli):
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    assert cli("sms", "senders", "approve", "RITA").exit_code == 0
    return "RITA"


def batches(backend):
    with backend.read_sessions() as s:
        return s.scalars(select(Batch).order_by(Batch.id)).all()


def messages(backend):
    with backend.read_sessions() as s:
        return s.scalars(select(Message).order_by(Message.id)).all()


def received(backend) -> Counter:
    backend.run_workers()
    with backend.read_sessions() as s:
        return Counter(s.scalars(select(OutboxEntry.recipient)))


def last_line(r) -> str:
    return r.stderr.strip().splitlines()[-1]


def test_the_same_campaign_run_again_is_refused_unless_again(cli, backend, sender, tmp_path):
    path = write_csv(tmp_path / "wadaiwa.csv", people(3))
    results = tmp_path / "out.csv"
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE)
    r = cli(*args, "--results", str(results), role="operator")
    assert r.exit_code == 0, r.stderr
    backend.run_workers()
    before = results.read_text("utf-8")

    r = cli(*args, role="operator")
    assert r.exit_code == 5, r.stderr
    line = last_line(r)
    assert line.startswith("error: this campaign (wadaiwa.csv, the same template, sender and schedule) was already "
                           "sent as batch 1 (2026-11-22 12:00 EAT, 3 messages: 3 delivered); nothing was sent")
    assert line.endswith("pass --again to send it again")
    assert len(batches(backend)) == 1 and len(messages(backend)) == 3
    assert results.read_text("utf-8") == before  # the earlier run's record is untouched

    # A copy of the file under another name is the same campaign: the content counts.
    copy = tmp_path / "copy.csv"
    shutil.copy(path, copy)
    r = cli("sms", "bulk", str(copy), "-i", "RITA", "--template", TEMPLATE, role="operator")
    assert r.exit_code == 5 and "was already sent as batch 1" in r.stderr

    r = cli(*args, "--again", "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    assert r.json()["batch"] == 2 and r.json()["statuses"] == {"queued": 3}
    assert Counter(received(backend).values()) == Counter({2: 3})  # twice, because it was asked for


def test_refusal_in_json_names_the_earlier_batch(cli, backend, sender, tmp_path):
    path = write_csv(tmp_path / "w.csv", people(2))
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "-o", "json")
    assert cli(*args, role="operator").exit_code == 0
    r = cli(*args, role="operator")
    assert r.exit_code == 5
    err = json.loads(r.stderr.strip().splitlines()[-1])
    assert err["error"] == "conflict" and err["hint"] == "pass --again to send it again"
    assert err["problem"]["duplicate_of"]["batch"] == 1 and err["problem"]["duplicate_of"]["messages"] == 2


def test_other_schedule_template_or_sender_is_another_campaign(cli, backend, sender, tmp_path):
    cli("sms", "senders", "request", "RITA NEWS", "-i", "RITA", role="operator")
    cli("sms", "senders", "approve", "RITA NEWS")
    path = write_csv(tmp_path / "w.csv", people(2))
    base = ("sms", "bulk", str(path), "-i", "RITA", "--from", "RITA")
    assert cli(*base, "--template", TEMPLATE, role="operator").exit_code == 0
    assert cli(*base, "--template", TEMPLATE + " Asante.", role="operator").exit_code == 0
    assert cli(*base, "--template", TEMPLATE, "--at", "2026-11-25 09:00", role="operator").exit_code == 0
    r = cli("sms", "bulk", str(path), "-i", "RITA", "--from", "RITA NEWS", "--template", TEMPLATE, role="operator")
    assert r.exit_code == 0, r.stderr
    r = cli(*base, "--template", TEMPLATE, "--at", "2026-11-25 09:00", role="operator")
    assert r.exit_code == 5 and "already sent as batch 3" in r.stderr
    # --normalize or --allow-quiet-hours do not make it another campaign: the same people get the same news.
    r = cli(*base, "--template", TEMPLATE, "--normalize", "--allow-quiet-hours", role="operator")
    assert r.exit_code == 5 and "already sent as batch 1" in r.stderr
    assert len(batches(backend)) == 4


def test_resume_of_a_finished_run_only_reports_its_batch(cli, backend, sender, tmp_path):
    path = write_csv(tmp_path / "w.csv", people(4))
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE)
    assert cli(*args, role="operator").exit_code == 0
    r = cli(*args, role="operator")
    assert r.exit_code == 5  # refused: the local record of the finished run must survive this
    r = cli(*args, "--resume", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "this campaign's run finished already, as batch 1; nothing to resume" in r.stderr
    assert "BATCH" in r.stdout and "QUEUED" in r.stdout
    r = cli(*args, "--resume", "-o", "json", role="operator")
    assert r.exit_code == 0 and r.json()["id"] == 1 and r.json()["messages"] == 4
    assert len(batches(backend)) == 1 and len(messages(backend)) == 4


def run_with_transport(token, transport, *args):
    from egactl.cli import app as cli_app
    from egactl.context import Context

    ctx = Context(transport=transport, token=token, sleep=lambda s: None)
    return CliRunner().invoke(cli_app, list(args), obj=ctx)


@pytest.fixture
def small_chunks(monkeypatch):
    from egactl_sms.commands import batches

    monkeypatch.setattr(batches, "CHUNK_SIZE", 3)
    monkeypatch.setattr(batches, "WORKERS", 1)


def test_restart_cancels_the_interrupted_batch_first(app, backend, clock, tokens, sender, small_chunks, tmp_path):
    from egactl.sandbox import SyncASGITransport

    path = write_csv(tmp_path / "w.csv", people(14))
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--at", "2026-11-23 09:00")
    r = run_with_transport(tokens["operator"], DownAfter(SyncASGITransport(app), 2), *args)
    assert r.exit_code == 7, r.stderr
    assert len(messages(backend)) == 6
    r = run_with_transport(tokens["operator"], SyncASGITransport(app), *args, "--restart", "-o", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["batch"] == 2 and out["restarted"] == {"batch": 1, "cancelled": 6, "handed_over": 0}
    r = run_with_transport(tokens["operator"], SyncASGITransport(app), *args, "--again")
    assert r.exit_code == 0  # (a third, deliberate send, to see the table's restart line below: none)
    assert "restart:" not in r.stderr
    clock.advance(days=1)
    states = Counter((m.batch_id, m.state) for m in messages(backend))
    assert states == {(1, "cancelled"): 6, (2, "queued"): 14, (3, "queued"): 14}
    got = received(backend)
    assert len(got) == 14 and set(got.values()) == {2}  # batch 2 and the deliberate batch 3; never batch 1


def test_restart_says_how_many_it_cancelled(app, backend, tokens, sender, small_chunks, tmp_path):
    from egactl.sandbox import SyncASGITransport

    path = write_csv(tmp_path / "w.csv", people(9))
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "--at", "2026-11-23 09:00")
    assert run_with_transport(tokens["operator"], DownAfter(SyncASGITransport(app), 1), *args).exit_code == 7
    r = run_with_transport(tokens["operator"], SyncASGITransport(app), *args, "--restart")
    assert r.exit_code == 0, r.stderr
    assert "restart: cancelled 3 unsent messages of the interrupted batch 1" in r.stderr
    assert "Batch 2: 9 messages queued" in r.stderr


def test_a_file_without_recipients_stores_nothing(cli, backend, sender, tmp_path):
    header_only = write_csv(tmp_path / "header.csv", [])
    r = cli("sms", "bulk", str(header_only), "-i", "RITA", "--template", TEMPLATE, role="operator")
    assert r.exit_code == 0, r.stderr
    assert f"{header_only}: no recipients to send; nothing was sent" in r.stderr
    assert "Batch" not in r.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = cli("sms", "bulk", str(empty), "-i", "RITA", "--template", TEMPLATE, role="operator")
    assert r.exit_code == 2 and "empty" in r.stderr
    bad = write_csv(tmp_path / "bad.csv", [("0222123456", "Ofisi", "1")])
    r = cli("sms", "bulk", str(bad), "-i", "RITA", "--template", TEMPLATE, "--skip-invalid", role="operator")
    assert r.exit_code == 0 and f"{bad}: no recipients to send; nothing was sent" in r.stderr
    assert batches(backend) == []
    # …and nothing was recorded as a run here either: a real file afterwards is a first run.
    write_csv(header_only, people(1))
    r = cli("sms", "bulk", str(header_only), "-i", "RITA", "--template", TEMPLATE, role="operator")
    assert r.exit_code == 0, r.stderr
    assert len(batches(backend)) == 1


# -- group sends -------------------------------------------------------------------------


@pytest.fixture
def group(cli, sender):
    assert cli("sms", "group", "create", "wazazi", "-i", "RITA", role="operator").exit_code == 0
    assert cli("sms", "group", "add-members", "wazazi", "0754123456", "0655123457", "-i", "RITA", role="operator").exit_code == 0
    return "wazazi"


TEXT = "Chanjo ya surua itatolewa tarehe 1 Desemba."


def test_the_same_group_message_within_a_day_is_refused(cli, backend, clock, group):
    args = ("sms", "send", "--group", group, "-i", "RITA", "--allow-quiet-hours", TEXT)
    assert cli(*args, role="operator").exit_code == 0
    clock.advance(hours=23)
    r = cli(*args, role="operator")
    assert r.exit_code == 5
    line = last_line(r)
    assert line.startswith("error: this message to group 'wazazi' was already sent as batch 1 (2026-11-22 12:00 EAT, "
                           "2 messages: 2 queued); nothing was sent")
    assert line.endswith("pass --again to send it again")
    r = cli(*args, "--dry-run", role="operator")
    assert r.exit_code == 0 and "sending it would be refused without --again" in r.stderr
    assert cli("sms", "send", "--group", group, "-i", "RITA", TEXT + " Asante.", role="operator").exit_code == 0
    assert cli(*args, "--again", role="operator").exit_code == 0
    clock.advance(hours=25)
    assert cli(*args, role="operator").exit_code == 0  # a day after the last one: allowed
    assert [b.id for b in batches(backend)] == [1, 2, 3, 4]


def test_the_refusal_does_not_repeat_the_message_text(cli, group):
    args = ("sms", "send", "--group", group, "-i", "RITA", TEXT)
    assert cli(*args, role="operator").exit_code == 0
    r = cli(*args, "-o", "json", role="operator")
    assert r.exit_code == 5 and TEXT not in r.stderr


# -- decided by the database: identical runs at once -----------------------------------


def _concurrent_creates(url: str, token: str, n: int) -> list[httpx.Response]:
    body = {"institution": "RITA", "template": TEMPLATE, "sender": "RITA", "digest": "ab" * 32}
    barrier = threading.Barrier(n)
    answers: list[httpx.Response] = [None] * n  # type: ignore[list-item]

    def one(i):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            barrier.wait()
            answers[i] = c.post("/api/v1/sms/batches", json={**body, "client_ref": f"run-{i}"},
                                headers={"Idempotency-Key": f"k-{i}"})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def _served_operator(server):
    r = server.run("institutions", "create", "RITA", "--name", "Registration Insolvency and Trusteeship Agency",
                   "--kind", "agency")
    assert r.returncode == 0, r.stderr
    token = server.token("operator", "RITA", subject="ops@rita.go.tz")
    assert server.run("sms", "senders", "request", "RITA", "-i", "RITA", token=token).returncode == 0
    assert server.run("sms", "senders", "approve", "RITA").returncode == 0
    return token


def _check_one_winner(server, answers):
    from egactl_sms.server.models import SendGuard

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 409: len(answers) - 1}, [a.text for a in answers if a.status_code not in (201, 409)]
    winner = next(a.json()["id"] for a in answers if a.status_code == 201)
    assert {a.json()["duplicate_of"]["batch"] for a in answers if a.status_code == 409} == {winner}
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as c:
            assert c.execute(select(func.count()).select_from(Batch)).scalar() == 1
            assert c.execute(select(SendGuard.batch_id)).scalars().all() == [winner]
    finally:
        engine.dispose()


def test_identical_runs_started_at_once_open_one_batch(served, tmp_path):
    token = _served_operator(served)
    _check_one_winner(served, _concurrent_creates(served.url, token, 12))


def test_identical_runs_started_at_once_open_one_batch_on_postgresql(postgres_url, tmp_path):
    from tests.conftest import start_server

    server = start_server(tmp_path, postgres_url)
    try:
        token = _served_operator(server)
        _check_one_winner(server, _concurrent_creates(server.url, token, 12))
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)


def test_resume_without_a_record_here_continues_the_campaigns_batch(app, backend, tokens, sender, small_chunks,
                                                                     tmp_path, monkeypatch):
    """Interrupted on one machine, resumed on another: the batch is found on the server, nobody gets two."""
    from egactl.sandbox import SyncASGITransport

    path = write_csv(tmp_path / "w.csv", people(14))
    args = ("sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE)
    assert run_with_transport(tokens["operator"], DownAfter(SyncASGITransport(app), 2), *args).exit_code == 7
    monkeypatch.setenv("EGACTL_DATA_DIR", str(tmp_path / "another-machine"))
    r = run_with_transport(tokens["operator"], SyncASGITransport(app), *args, "--resume", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "no record of this run here" not in r.stderr  # -o json: notices are for people, in table output
    assert json.loads(r.stdout)["statuses"] == {"duplicate": 6, "queued": 8}
    assert len(batches(backend)) == 1
    got = received(backend)
    assert len(got) == 14 and set(got.values()) == {1}
    # Without --resume, the other machine is refused instead.
    monkeypatch.setenv("EGACTL_DATA_DIR", str(tmp_path / "a-third-machine"))
    r = run_with_transport(tokens["operator"], SyncASGITransport(app), *args)
    assert r.exit_code == 5 and "already sent as batch 1" in r.stderr
