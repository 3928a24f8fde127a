"""The bulk machinery, through `egactl institutions import` against the real backend.

A ``Spy`` transport wraps the test backend's transport: it records every bulk
POST (with its Idempotency-Key and whether the response reached the client)
and can fail on purpose — the faults a real server does not give on demand:
the link dropping after the server committed, a server error for one chunk,
Ctrl-C in the middle of a run.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from egactl.cli import app
from egactl.context import Context
from egactl.server.models import AuditEntry, Institution

BULK_PATH = "/api/v1/institutions/bulk"


def ctrl_c_when_main_waits() -> None:
    """SIGINT to the main thread once it is blocked waiting for chunks, as a person's Ctrl-C.

    Waiting is where a bulk command spends its time; aiming there keeps the test
    deterministic (an interrupt inside, say, ThreadPoolExecutor.submit is possible
    too, and then --resume re-sends that chunk under its key: replayed, not redone).
    """
    main = threading.main_thread().ident
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        frame, names = sys._current_frames().get(main), []
        while frame is not None and len(names) < 4:
            names.append(frame.f_code.co_name)
            frame = frame.f_back
        if names == ["wait", "wait", "wait", "run"]:  # Condition.wait < Event.wait < futures.wait < bulk.run
            break
        time.sleep(0.001)
    signal.pthread_kill(main, signal.SIGINT)


class Spy(httpx.BaseTransport):
    """Pass requests to the real backend; record bulk POSTs; fail when told to."""

    def __init__(self, inner, fail=None):
        self.inner = inner
        self.fail = fail  # fail(n, request) -> None | "drop-after" | "down" | "500" | "interrupt"
        self.bulk_sent: list[str] = []  # idempotency keys, in order sent
        self.delivered: list[str] = []  # keys whose response reached the client
        self.down = False
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        is_bulk = request.method == "POST" and request.url.path == BULK_PATH
        with self.lock:  # check, count and go down atomically: concurrent chunks see one order
            if self.down:
                raise httpx.ConnectError("connection refused", request=request)
            if not is_bulk:
                action = None
            else:
                key = request.headers["Idempotency-Key"]
                self.bulk_sent.append(key)
                action = self.fail(len(self.bulk_sent), request) if self.fail else None
                if action in ("drop-after", "down"):
                    self.down = True
        if not is_bulk:
            return self.inner.handle_request(request)
        if action == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if action == "interrupt":  # Ctrl-C while the command waits for answers; this request still completes
            ctrl_c_when_main_waits()
        elif action == "slow":
            time.sleep(0.3)
        elif action == "500":
            return httpx.Response(500, json={"title": "Internal Server Error", "detail": "database on fire"},
                                  headers={"Content-Type": "application/problem+json"}, request=request)
        response = self.inner.handle_request(request)
        if action == "drop-after":  # the server committed the chunk; its answer never arrives
            raise httpx.ReadError("connection reset by peer", request=request)
        with self.lock:
            self.delivered.append(key)
        return response


@pytest.fixture
def run(cli, tokens):
    """run(*args, spy=None) → Result, through a Spy (a fresh one unless given)."""
    class Runner:
        last: Spy | None = None

        def __call__(self, *args: str, spy: Spy | None = None):
            spy = spy or Spy(cli.transport)
            self.last = spy
            ctx = Context(transport=spy, token=tokens["admin"], sleep=lambda s: None)
            r = CliRunner().invoke(app, list(args), obj=ctx)
            r.spy = spy
            return r

    return Runner()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def institutions(backend) -> dict[str, Institution]:
    with backend.read_sessions() as s:
        return {i.code: i for i in s.scalars(select(Institution))}


def audit_creates(backend) -> Counter:
    with backend.read_sessions() as s:
        return Counter(s.scalars(select(AuditEntry.resource_id).where(
            AuditEntry.action == "create", AuditEntry.resource_type == "institution")))


def results_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


GOOD = ("code,name,kind,region,contact_email\n"
        "MUHAS,Muhimbili University of Health and Allied Sciences,other,Dar es Salaam,info@muhas.ac.tz\n"
        "TANESCO,Tanzania Electric Supply Company,agency,,\n"
        "DODOMA-CC,Dodoma City Council,lga,Dodoma,\n")


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_with_and_without_bom(run, backend, tmp_path, bom):
    path = write(tmp_path / "in.csv", ("\ufeff" if bom else "") + GOOD)
    r = run("institutions", "import", str(path), "-o", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["rows"] == 3 and summary["sent"] == 3 and summary["failed"] == 0
    assert summary["statuses"] == {"created": 3}
    stored = institutions(backend)
    assert stored["MUHAS"].contact_email == "info@muhas.ac.tz" and stored["MUHAS"].region == "Dar es Salaam"
    assert stored["TANESCO"].region is None and stored["DODOMA-CC"].kind == "LGA"
    assert len(r.spy.bulk_sent) == 1


def test_latin1_file_is_one_clear_line(run, backend, tmp_path):
    before = institutions(backend)
    path = write(tmp_path / "latin.csv", GOOD + "MZUMBE,Chuo Kikuu cha Mzumbe – Morogoro Région,other,,\n", "cp1252")
    r = run("institutions", "import", str(path))
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [f"error: {path}: not UTF-8 text (byte 0x96 on line 5); save it as 'CSV UTF-8'"]
    assert r.spy.bulk_sent == [] and institutions(backend).keys() == before.keys()


def test_latin1_far_into_a_big_file_names_its_line(run, tmp_path):
    rows = "".join(f"C{i},Institution number {i},other,,\n" for i in range(3000))
    path = write(tmp_path / "big.csv", "code,name,kind,region,contact_email\n" + rows + "X1,Café,other,,\n", "latin-1")
    r = run("institutions", "import", str(path))
    assert r.exit_code == 2
    assert "(byte 0xe9 on line 3002)" in r.stderr
    assert r.spy.bulk_sent == []


def test_empty_file(run, tmp_path):
    r = run("institutions", "import", str(write(tmp_path / "empty.csv", "")))
    assert r.exit_code == 2
    assert r.stderr.strip() == f"error: {tmp_path / 'empty.csv'}: the file is empty (expected a header row)"


def test_header_only_sends_nothing(run, tmp_path):
    r = run("institutions", "import", str(write(tmp_path / "h.csv", "code,name,kind\n")), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rows"] == 0 and r.spy.bulk_sent == []


def test_missing_columns(run, tmp_path):
    r = run("institutions", "import", str(write(tmp_path / "m.csv", "code,title\nX,Y\n")))
    assert r.exit_code == 2
    assert "missing columns name, kind (the header has: code, title)" in r.stderr
    assert r.spy.bulk_sent == []


def test_missing_file(run, tmp_path):
    r = run("institutions", "import", str(tmp_path / "nope.csv"))
    assert r.exit_code == 2 and "no such file" in r.stderr


BAD = ("code,name,kind\n"
       "GOOD1,Good One,agency\n"
       "B!,Bad Code,agency\n"
       "GOOD2,Good Two,ministry\n"
       "NOKIND,No Kind,company\n"
       "\n"
       "GOOD1,Good One Again,agency\n"
       "EMPTYNAME,,agency\n")


def test_bad_rows_reported_by_line_and_nothing_sent(run, backend, tmp_path):
    before_audit = audit_creates(backend)
    r = run("institutions", "import", str(write(tmp_path / "bad.csv", BAD)))
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert lines[0] == "bad.csv: line 3: institution code 'B!' must be 2-32 letters, digits or '-' (e.g. RITA, KINONDONI-MC)"
    assert lines[1].startswith("bad.csv: line 5: kind 'company' is not one of")
    assert lines[2] == "bad.csv: line 7: duplicate of line 2 (GOOD1)"
    assert lines[3] == "bad.csv: line 8: name is empty"
    # the blank line is not a row
    assert lines[4].startswith(f"error: {tmp_path / 'bad.csv'}: 4 invalid rows of 6; nothing was sent")
    assert "--skip-invalid" in lines[4]
    assert r.spy.bulk_sent == []
    assert "GOOD1" not in institutions(backend)
    assert audit_creates(backend) == before_audit


def test_skip_invalid_sends_the_valid_rows(run, backend, tmp_path):
    results = tmp_path / "out.jsonl"
    r = run("institutions", "import", str(write(tmp_path / "bad.csv", BAD)), "--skip-invalid",
            "--results", str(results), "-o", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["rows"], summary["invalid"], summary["sent"]) == (6, 4, 2)
    assert 3 in [row["line"] for row in summary["invalid_rows"]]  # still reported: in the JSON, not on stderr
    assert "line 3:" not in r.stderr
    stored = institutions(backend)
    assert stored["GOOD1"].name == "Good One"  # the first of the duplicates
    assert "NOKIND" not in stored and "EMPTYNAME" not in stored
    lines = [json.loads(ln) for ln in results.read_text().splitlines()]
    assert lines == [{"line": 2, "status": "created", "id": "GOOD1", "error": None},
                     {"line": 4, "status": "created", "id": "GOOD2", "error": None}]


def test_partial_failure_exit_6_and_results_csv(run, backend, tmp_path):
    path = write(tmp_path / "p.csv", "code,name,kind,region,contact_email\n"
                                     "NEWONE,New One,agency,Mwanza,\n"
                                     "RITA,Some Other Name,agency,Dar es Salaam,info@rita.go.tz\n"
                                     "TRA,Tanzania Revenue Authority,agency,Dar es Salaam,info@tra.go.tz\n")
    results = tmp_path / "results.csv"
    r = run("institutions", "import", str(path), "--results", str(results))
    assert r.exit_code == 6
    assert r.stderr.splitlines()[-1] == f"error: 1 of 3 rows failed; see {results} for which rows failed and why"
    assert results_csv(results) == [
        {"line": "2", "status": "created", "id": "NEWONE", "error": ""},
        {"line": "3", "status": "failed", "id": "RITA", "error": "institution RITA exists with other details"},
        {"line": "4", "status": "exists", "id": "TRA", "error": ""},
    ]
    assert institutions(backend)["RITA"].name == "Registration Insolvency and Trusteeship Agency"
    assert "NEWONE" in institutions(backend)
    # Finished (not interrupted): running it again is a new run, not refused.
    again = run("institutions", "import", str(path), "-o", "json")
    assert again.exit_code == 6, again.stderr
    assert "interrupted" not in again.stderr
    assert json.loads(again.stdout)["statuses"] == {"exists": 2, "failed": 1}


def test_results_file_needs_a_known_suffix(run, tmp_path):
    r = run("institutions", "import", str(write(tmp_path / "g.csv", GOOD)), "--results", str(tmp_path / "r.txt"))
    assert r.exit_code == 2 and "use a .csv or .jsonl name" in r.stderr
    assert r.spy.bulk_sent == []


def test_dry_run_sends_nothing(run, backend, tmp_path):
    r = run("institutions", "import", str(write(tmp_path / "g.csv", GOOD)), "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["dry_run"] is True and summary["rows"] == 3 and summary["sent"] == 0
    assert r.spy.bulk_sent == []
    assert "MUHAS" not in institutions(backend)
    r = run("institutions", "import", str(write(tmp_path / "bad.csv", BAD)), "--dry-run")
    assert r.exit_code == 2 and "line 3:" in r.stderr


def many(tmp_path: Path, n: int) -> Path:
    rows = "".join(f"BULK-{i:04d},Bulk Institution {i},agency,Region {i % 26},\n" for i in range(n))
    return write(tmp_path / "many.csv", "code,name,kind,region,contact_email\n" + rows)


def test_interrupted_run_resumes_sending_nothing_twice(run, cli, backend, tmp_path):
    n = 800  # 4 chunks of 200
    path = many(tmp_path, n)
    results = tmp_path / "res.csv"
    # The 3rd chunk is committed by the server but its answer is lost, and the link stays down.
    first = run("institutions", "import", str(path), "--results", str(results),
                spy=Spy(cli.transport, fail=lambda k, req: "drop-after" if k == 3 else None))
    assert first.exit_code == 7, first.stderr
    assert first.stderr.splitlines()[-1].endswith("nothing was lost; run the same command with --resume to continue")
    done_before = set(first.spy.delivered)
    assert len(done_before) == 2  # chunks answered before the link dropped
    # …plus the committed one whose answer was lost; nothing after the link went down
    assert len({c for c in institutions(backend) if c.startswith("BULK-")}) == 600

    # Again without --resume: refused, with the hint, nothing sent.
    refused = run("institutions", "import", str(path), "--results", str(results))
    assert refused.exit_code == 2
    assert "an interrupted run of this job exists" in refused.stderr and "--resume" in refused.stderr
    assert refused.spy.bulk_sent == []

    resumed = run("institutions", "import", str(path), "--resume", "-o", "json")
    assert resumed.exit_code == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed_chunks"] == len(done_before) and summary["failed"] == 0
    assert summary["results"] == str(results)  # the interrupted run's file, appended to
    # Chunks whose answer arrived are not sent again; the lost one is sent again with the SAME key.
    assert done_before.isdisjoint(resumed.spy.bulk_sent)
    lost = [k for k in first.spy.bulk_sent if k not in done_before]
    assert set(lost) <= set(resumed.spy.bulk_sent)
    assert len(resumed.spy.bulk_sent) == 4 - len(done_before)

    stored = {c for c in institutions(backend) if c.startswith("BULK-")}
    assert len(stored) == n
    creates = audit_creates(backend)
    assert {c: creates[c] for c in stored if creates[c] != 1} == {}  # each created exactly once
    rows = results_csv(results)
    assert sorted(int(r["line"]) for r in rows) == list(range(2, n + 2))  # every row reported once
    assert {r["status"] for r in rows} == {"created"}  # never "exists": nothing was sent twice under a new key

    # Finished: the job is recorded complete, so running it again would be a new run, not a resume.
    (state,) = (Path(tmp_path) / "data" / "jobs").glob("*/state.json")
    assert json.loads(state.read_text())["status"] == "complete"


def test_ctrl_c_then_resume(run, cli, backend, tmp_path):
    """A real SIGINT to the main thread while chunks are on the wire, as Ctrl-C in a terminal."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("needs the main thread with Python's default SIGINT handler")
    path = many(tmp_path, 1000)  # 5 chunks, 4 workers: chunk 4 waits in the queue
    first = run("institutions", "import", str(path),
                spy=Spy(cli.transport, fail=lambda k, req: "interrupt" if k == 2 else "slow"))
    assert first.exit_code == 130  # as shells expect of Ctrl-C; a script can tell it from a failure
    assert "interrupted; what was sent is recorded" in first.stderr and "--resume" in first.stderr
    # The queued chunk was cancelled, not sent after the interrupt; those on the wire were
    # recorded when they answered, so --resume sends the cancelled one only.
    assert len(first.spy.bulk_sent) == 4 and len(first.spy.delivered) == 4
    resumed = run("institutions", "import", str(path), "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert len(resumed.spy.bulk_sent) == 1
    assert set(first.spy.delivered).isdisjoint(resumed.spy.bulk_sent)
    assert len({c for c in institutions(backend) if c.startswith("BULK-")}) == 1000
    assert max(audit_creates(backend).values()) == 1


def test_a_chunk_refused_as_a_whole_is_retried_by_resume(run, cli, backend, tmp_path):
    path = many(tmp_path, 600)  # 3 chunks
    spy = Spy(cli.transport, fail=lambda k, req: "500" if b'"BULK-0200"' in req.content else None)
    first = run("institutions", "import", str(path), spy=spy)
    assert first.exit_code == 6
    assert "run the same command with --resume to retry them" in first.stderr
    assert len({c for c in institutions(backend) if c.startswith("BULK-")}) == 400
    assert run("institutions", "import", str(path)).exit_code == 2  # still resumable, so refused without --resume
    resumed = run("institutions", "import", str(path), "--resume", "-o", "json")
    assert resumed.exit_code == 0, resumed.stderr
    assert len(resumed.spy.bulk_sent) == 1 and json.loads(resumed.stdout)["statuses"] == {"created": 200}
    assert len({c for c in institutions(backend) if c.startswith("BULK-")}) == 600


def test_restart_discards_an_interrupted_run(run, cli, backend, tmp_path):
    path = many(tmp_path, 10)
    first = run("institutions", "import", str(path), spy=Spy(cli.transport, fail=lambda k, req: "down" if k == 1 else None))
    assert first.exit_code == 7
    again = run("institutions", "import", str(path), "--restart", "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["resumed_chunks"] == 0
    assert set(first.spy.bulk_sent).isdisjoint(again.spy.bulk_sent)  # a new run: new keys


def test_job_state_is_per_target(run, cli, tmp_path, monkeypatch):
    """An interrupted run against one API does not block (or get resumed by) the same file elsewhere."""
    path = many(tmp_path, 10)
    first = run("institutions", "import", str(path), spy=Spy(cli.transport, fail=lambda k, req: "down"))
    assert first.exit_code == 7
    monkeypatch.setenv("EGACTL_API_URL", "http://staging.invalid")
    other = run("institutions", "import", str(path))
    assert other.exit_code == 0, other.stderr


def test_rows_stream_through_bounded_chunks(tmp_path, monkeypatch):
    """Memory stays flat: while chunk k is being sent, only a bounded number of rows has been read.

    Not a measurement: if the machinery collected the rows (a list of the file, a queue
    of every chunk), the second pass would be far ahead of the chunk being sent.
    """
    import threading
    import time
    from types import SimpleNamespace

    from egactl import bulk
    from egactl.output import IOStreams

    n, size, workers = 1000, 10, 2
    path = write(tmp_path / "s.csv", "code\n" + "".join(f"C{i}\n" for i in range(n)))
    parsed = 0
    lock = threading.Lock()
    worst = 0

    def parse_row(row, line):
        nonlocal parsed
        with lock:
            parsed += 1
        return {"code": row["code"]}

    def submit(api, items, key):
        nonlocal worst
        index = int(key.rsplit("-", 1)[1])
        with lock:
            ahead = (parsed - n) - (index + 1) * size  # second-pass rows read beyond this chunk
        worst = max(worst, ahead)
        time.sleep(0.002)
        return [{"line": it["line"], "status": "created"} for it in items]

    ctx = SimpleNamespace(io=IOStreams(out=io.StringIO(), err=io.StringIO()),
                          settings=SimpleNamespace(profile="t", api_url="http://t"), api=lambda: None)
    job = bulk.Job(name="stream-test", path=path, required=("code",), parse_row=parse_row, submit=submit,
                   chunk_size=size, workers=workers)
    summary = bulk.run(ctx, job, results=tmp_path / "r.jsonl")
    assert summary.sent == n and summary.failed == 0
    assert parsed == 2 * n  # validated, then read again to send
    assert worst <= (2 * workers + 1) * size, worst
