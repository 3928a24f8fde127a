"""Bulk jobs from CSV: validate everything, then send in chunks, resumably.

Every plugin's import/bulk command runs through ``run``:

1. Stream the CSV (UTF-8, with or without BOM); a wrong encoding, an empty
   file or a missing column is one clear error before anything else.
2. Validate every row (the plugin's ``parse_row``); report bad rows by line
   number and stop, unless ``--skip-invalid``. Nothing has been sent yet.
3. Send the valid rows in chunks, concurrently, each chunk with an
   ``Idempotency-Key`` derived from the job (file digest, options, and a
   per-run nonce kept in the job's state) and the chunk's number. Retries and
   ``--resume`` reuse the same keys, so the server answers a chunk it already
   did from its idempotency store: nothing is lost and nothing is done twice.
4. Write what happened to each row to a results file as chunks finish, keep a
   log of finished chunks, and exit 6 when some rows failed.

Memory does not grow with the input: rows are streamed twice (validate, send),
at most ``2 × workers`` chunks are in flight, results go straight to disk, and
the duplicate check keeps the keys it has met on disk (``SeenKeys``), not in a dict.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from egactl import paths
from egactl.errors import AuthError, EgactlError, Interrupted, InvalidInput, PartialFailure, Unreachable
from egactl.output import delimited_writer

MAX_REPORTED_ERRORS = 50
FAILED = "failed"


class RowError(ValueError):
    """Raised by ``parse_row``: the row is invalid; the message says why."""


@dataclass
class Job:
    """What a plugin tells the machinery about one kind of bulk job."""

    name: str
    """Stable job kind, e.g. "mail-import"; part of the job's identity."""

    path: Path
    required: Sequence[str]
    """Columns that must be in the header."""

    parse_row: Callable[[dict[str, str], int], dict[str, Any]]
    """(row, line number) → the item to send; raise ``RowError`` for a bad row."""

    endpoint: str | None = None
    """POST target taking ``{"items": [...]}`` and answering ``{"results": [...]}``."""

    submit: Callable[[Any, list[dict[str, Any]], str], list[dict[str, Any]]] | None = None
    """Custom sender (api, items, idempotency key) → results; instead of ``endpoint``."""

    options: dict[str, Any] = field(default_factory=dict)
    """Everything else that changes what is sent (template, sender…): part of the identity."""

    unique_key: Callable[[dict[str, Any]], str] | None = None
    """When set, two rows with the same key are an error (e.g. duplicate employee numbers)."""

    chunk_size: int = 500
    workers: int = 4
    noun: str = "rows"


@dataclass
class Summary:
    job: str
    file: str
    rows: int = 0
    invalid: int = 0
    sent: int = 0
    failed: int = 0
    skipped_chunks: int = 0
    failed_chunks: int = 0
    """Chunks the server refused as a whole: not recorded as done, so --resume retries them."""
    statuses: dict[str, int] = field(default_factory=dict)
    results: str | None = None
    dry_run: bool = False
    invalid_rows: list[dict[str, Any]] = field(default_factory=list)
    """The first invalid rows skipped (``--skip-invalid``), ``{"line": N, "error": "..."}``."""

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "file": self.file, "rows": self.rows, "invalid": self.invalid,
                "sent": self.sent, "failed": self.failed, "statuses": dict(sorted(self.statuses.items())),
                "resumed_chunks": self.skipped_chunks, "results": self.results, "dry_run": self.dry_run,
                "invalid_rows": self.invalid_rows}


# -- reading ------------------------------------------------------------------------


FIELD_LIMIT = csv.field_size_limit()
"""The longest field the reader takes (csv's own limit): an unclosed quote cannot make it read the rest of a
large file into one field, so memory stays bounded whatever the input."""


def read_csv(path: Path, required: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a UTF-8 CSV (with or without BOM), streaming.

    The one CSV reader of egactl: every import path reads through it. Header
    names and values are stripped; blank rows are skipped; columns whose header
    is empty are not passed on. A file that is not a well-formed CSV is refused
    with ``InvalidInput`` (exit 2) naming the file and the line, as soon as the
    fault is reached — callers read the whole file before sending anything, so
    a fault anywhere means nothing is stored:

    - a missing, empty or non-UTF-8 file, or a missing required column;
    - the same column name twice in the header;
    - a row with fewer or more fields than the header;
    - a quoted field still open at the end of the file (or longer than ``FIELD_LIMIT``);
    - a stray quote after a closing one (``"ab"c``);
    - a NUL byte.
    """
    rows = _parse(path, required)
    next(rows)  # the header
    return rows  # type: ignore[return-value]


def read_header(path: Path) -> list[str]:
    """The CSV's column names (stripped), checked as ``read_csv`` checks them."""
    rows = _parse(path, ())
    try:
        return next(rows)  # type: ignore[return-value]
    finally:
        rows.close()


def _parse(path: Path, required: Sequence[str]) -> Iterator[Any]:
    """The header, then (line number, row) for each row; see ``read_csv``."""
    with _open(path) as fh:
        lines = _physical_lines(fh, path)
        # strict: a closing quote followed by text, and a quote still open at the end of
        # the file, are errors rather than silently merged into a field.
        reader = csv.reader(lines, strict=True)
        start = 1  # the line the record being read starts on
        try:
            header = next(reader, None)
            header = _check_header(path, header, required)
            named = [(i, h) for i, h in enumerate(header) if h]
            width = len(header)
            all_named = len(named) == width
            start = reader.line_num + 1
            yield header
            for values in reader:
                line = start
                start = reader.line_num + 1
                if not any(v.strip() for v in values):
                    continue
                if len(values) != width:
                    raise InvalidInput(f"{path}: line {line}: {len(values)} field{'s' if len(values) != 1 else ''}, "
                                       f"the header has {width}", hint=NOTHING_SENT)
                if all_named:
                    yield line, dict(zip(header, (v.strip() for v in values)))
                else:
                    yield line, {h: values[i].strip() for i, h in named}
        except UnicodeDecodeError as exc:
            # The text layer decodes in 8 KiB blocks, so the reader's position does not
            # say where the bad byte is; find the line (only on this error path).
            bad_line = _first_non_utf8_line(path)
            where = f"line {bad_line}" if bad_line else f"after line {start}"
            raise InvalidInput(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on {where})",
                               hint="save it as 'CSV UTF-8'") from None
        except csv.Error as exc:
            text = str(exc)
            if text == "unexpected end of data":
                why = "a quoted field is not closed before the end of the file"
            elif text.startswith("field larger than field limit"):
                why = f"a field longer than {FIELD_LIMIT} characters (is a quote not closed?)"
            elif "expected after '\"'" in text:
                why = f"text after a closing quote ({text})"
            else:
                why = text
            raise InvalidInput(f"{path}: line {start}: {why}", hint=NOTHING_SENT) from None


NOTHING_SENT = "nothing was sent; fix the file and run again"


def _open(path: Path):
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a directory, not a CSV file") from None
    except PermissionError:
        raise InvalidInput(f"{path}: permission denied") from None


def _physical_lines(fh: Any, path: Path) -> Iterator[str]:
    """The file's lines, refusing a NUL byte (csv reads NUL as an ordinary character)."""
    for number, text in enumerate(fh, 1):
        if "\x00" in text:
            raise InvalidInput(f"{path}: line {number}: a NUL byte (this is not a text CSV file)", hint=NOTHING_SENT)
        yield text


def _check_header(path: Path, header: list[str] | None, required: Sequence[str]) -> list[str]:
    if header is None or not any(h.strip() for h in header):
        raise InvalidInput(f"{path}: the file is empty (expected a header row)")
    header = [h.strip() for h in header]
    first: dict[str, int] = {}
    for number, name in enumerate(header, 1):
        if name and name in first:
            raise InvalidInput(f"{path}: line 1: column {name!r} appears twice in the header "
                               f"(columns {first[name]} and {number})", hint=NOTHING_SENT)
        first.setdefault(name, number)
    missing = [c for c in required if c not in first]
    if missing:
        raise InvalidInput(f"{path}: missing column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(missing)} (the header has: {', '.join(h for h in header if h)})")
    return header


def _first_non_utf8_line(path: Path) -> int | None:
    """The number of the first physical line that is not UTF-8, streaming the file."""
    try:
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return number
    except OSError:
        return None
    return None


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- job state ------------------------------------------------------------------------


class JobState:
    """``<data dir>/jobs/<id>/``: state.json (nonce, status) and done.log (finished chunks)."""

    def __init__(self, job_id: str):
        self.dir = paths.data_dir() / "jobs" / job_id
        self.state_file = self.dir / "state.json"
        self.done_file = self.dir / "done.log"

    def load(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def save(self, data: dict[str, Any]) -> None:
        paths.private_dir(self.dir)
        paths.write_private(self.state_file, json.dumps(data).encode())

    def done(self) -> set[int]:
        try:
            return {int(x) for x in self.done_file.read_text().split()}
        except FileNotFoundError:
            return set()

    def reset(self) -> None:
        self.done_file.unlink(missing_ok=True)


class ResultsWriter:
    COLUMNS = ("line", "status", "id", "error")

    @staticmethod
    def check_name(path: Path) -> None:
        if path.suffix.lower() not in (".csv", ".jsonl"):
            raise InvalidInput(f"results file {path}: use a .csv or .jsonl name")

    def __init__(self, path: Path, append: bool):
        self.check_name(path)
        self.path = path
        self.jsonl = path.suffix.lower() == ".jsonl"
        exists = append and path.exists() and path.stat().st_size > 0
        # Results name every row's outcome (numbers, errors): owner-only, like the job state.
        self.fh = paths.create_private(path, append=append, encoding="utf-8", newline="")
        self.writer = None if self.jsonl else delimited_writer(self.fh)
        if self.writer and not exists:
            self.writer.writerow(self.COLUMNS)

    def write(self, result: dict[str, Any]) -> None:
        if self.jsonl:
            self.fh.write(json.dumps({k: result.get(k) for k in self.COLUMNS}, ensure_ascii=False) + "\n")
        else:
            assert self.writer is not None
            self.writer.writerow([result.get(k) for k in self.COLUMNS])

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


# -- running ------------------------------------------------------------------------


class SeenKeys:
    """The duplicate check's memory: each key met so far, and the line it was first met on.

    Kept in a private temporary SQLite database (``sqlite3.connect("")``: a file SQLite
    creates and unlinks at once, gone with the connection), whose B-tree is held in a
    page cache of ``CACHE_KIB`` and spills to disk past it, so a job's memory is the same
    for 20 thousand rows or 600 thousand. A key is stored as a 16-byte BLAKE2b digest, not
    as text: the file holds no employee number or phone number, and every entry is the
    same small size (two different keys share a digest with odds around 2^-128 per pair).
    """

    CACHE_KIB = 2048

    def __init__(self) -> None:
        import sqlite3  # only bulk jobs with a unique key need it: not every command that imports bulk

        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", f"cache_size=-{self.CACHE_KIB}", "temp_store=FILE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (digest BLOB PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def first_line(self, key: str, line: int) -> int | None:
        """None the first time ``key`` is met (it is remembered with ``line``); else the line it was met on first."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (digest, line)).rowcount == 1:
            return None
        return self._db.execute("SELECT line FROM seen WHERE digest = ?", (digest,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "SeenKeys":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def validate(job: Job) -> tuple[int, int, list[dict[str, Any]]]:
    """First pass: (rows, invalid rows, the first ``MAX_REPORTED_ERRORS`` of them as
    ``{"line": N, "error": "..."}``).

    Nothing is reported until the whole file has been read: a malformed file is then
    one error, not row errors first.
    """
    rows = invalid = 0
    reports: list[dict[str, Any]] = []
    with SeenKeys() as seen:
        for line, row in read_csv(job.path, job.required):
            rows += 1
            try:
                item = job.parse_row(row, line)
                if job.unique_key is not None:
                    key = job.unique_key(item)
                    first = seen.first_line(key, line)
                    if first is not None:
                        raise RowError(f"duplicate of line {first} ({key})")
            except RowError as exc:
                invalid += 1
                if invalid <= MAX_REPORTED_ERRORS:
                    reports.append({"line": line, "error": str(exc)})
    return rows, invalid, reports


def _report_rows(io: Any, job: Job, invalid: int, reports: list[dict[str, Any]]) -> None:
    """Invalid rows as lines on stderr, for people (JSON output carries them in its objects instead)."""
    for r in reports:
        io.status(f"{job.path.name}: line {r['line']}: {r['error']}")
    if invalid > len(reports):
        io.status(f"{job.path.name}: … and {invalid - len(reports)} more invalid rows")


def _valid_items(job: Job) -> Iterator[dict[str, Any]]:
    """The rows to send (the second pass): the valid ones, a duplicate key's first row only."""
    seen = SeenKeys() if job.unique_key is not None else None
    try:
        for line, row in read_csv(job.path, job.required):
            try:
                item = job.parse_row(row, line)
            except RowError:
                continue
            if seen is not None and seen.first_line(job.unique_key(item), line) is not None:  # type: ignore[misc]
                continue
            yield {"line": line, **item}
    finally:
        if seen is not None:
            seen.close()


def _chunks(items: Iterator[dict[str, Any]], size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    chunk: list[dict[str, Any]] = []
    index = 0
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield index, chunk
            index += 1
            chunk = []
    if chunk:
        yield index, chunk


def run_job_id(ctx: Any, job: Job) -> str:
    """The job's identity: its kind, the file's content, its options and the target.

    The same id finds the job's state (``JobState``) on the next run, so a
    command can tell before ``run`` whether this job was run here before.
    """
    digest = file_digest(job.path) if job.path.is_file() else ""
    # The target is part of the identity: the same file sent to another profile or API
    # is another job, and must never resume (or be refused because of) this one.
    settings = ctx.settings
    identity = json.dumps({"name": job.name, "file": digest, "options": job.options, "chunk": job.chunk_size,
                           "profile": settings.profile, "api_url": settings.api_url},
                          sort_keys=True, default=str)
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def run(ctx: Any, job: Job, *, skip_invalid: bool = False, resume: bool = False, restart: bool = False,
        results: Path | None = None, dry_run: bool = False,
        before_submit: Callable[[Any, str], None] | None = None) -> Summary:
    """Run a bulk job for the command context ``ctx``; returns its summary.

    ``before_submit(api, job_run_id)`` runs once before the first chunk (e.g.
    to create an SMS batch with an idempotency key derived from the run id, so
    a resumed run finds the same batch).
    """
    io = ctx.io
    job_id = run_job_id(ctx, job)
    summary = Summary(job=job_id, file=str(job.path), dry_run=dry_run)
    rows, invalid, reports = validate(job)
    summary.rows, summary.invalid = rows, invalid
    as_json = getattr(ctx, "fmt", None) in ("json", "jsonl")
    if not as_json:
        _report_rows(io, job, invalid, reports)
    if invalid and not skip_invalid:
        raise InvalidInput(f"{job.path}: {invalid} invalid row{'s' if invalid != 1 else ''} of {rows}; nothing was sent",
                           hint="fix them, or pass --skip-invalid to send the valid rows only",
                           rows=reports if as_json else None)
    summary.invalid_rows = reports
    if dry_run:
        return summary
    if rows == invalid:
        # A header-only file (or nothing valid under --skip-invalid): nothing to send, so
        # nothing is created either — no job state, no results file, no batch.
        io.status(f"{job.path}: no {job.noun} to send; nothing was sent")
        return summary

    state = JobState(job_id)
    previous = state.load()
    done: set[int] = set()
    if previous and previous.get("status") == "running" and not (resume or restart):
        finished = len(state.done())
        raise InvalidInput(f"an interrupted run of this job exists ({finished} chunk(s) finished)",
                           hint="pass --resume to continue it, or --restart to start again from the first row")
    if resume and previous and previous.get("status") == "running":
        nonce = previous["nonce"]
        results = Path(previous["results"]) if results is None else results
        done = state.done()
        append = True
    else:
        if resume:
            io.warn("no interrupted run of this job was found; starting from the first row")
        nonce = secrets.token_hex(8)
        results = results or (state.dir / "results.csv")
        append = False
    # Absolute, so that --resume from another directory appends to the same file.
    results = Path(results).absolute()
    ResultsWriter.check_name(results)
    run_id = f"{job_id}-{nonce}"
    api = ctx.api()
    if before_submit is not None:
        # Before anything is written here: when it refuses (say, the server answers that
        # this job was done already), the previous run's state and results stay as they were.
        before_submit(api, run_id)
    if not append:
        state.reset()
    state.save({"status": "running", "nonce": nonce, "file": str(job.path), "results": str(results), "name": job.name})
    writer = ResultsWriter(Path(results), append=append)
    summary.results = str(results)
    summary.skipped_chunks = len(done)

    def send(index: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        key = f"{run_id}-{index}"
        if job.submit is not None:
            return job.submit(api, items, key)
        assert job.endpoint, "a bulk Job needs an endpoint or a submit function"
        return api.request("POST", job.endpoint, json_body={"items": items}, idempotency_key=key).json()["results"]

    progress = _Progress(io, total=rows - invalid, noun=job.noun)
    done_log = paths.create_private(state.done_file, append=True, encoding="utf-8")
    stop_error: EgactlError | None = None
    lock = threading.Lock()

    def finish(index: int, items: list[dict[str, Any]], future: Future) -> None:
        nonlocal stop_error
        try:
            outcome = future.result()
            ok = True
        except (Unreachable, AuthError) as exc:
            # Unreachable: the rest would fail the same way. AuthError (401/403): the
            # token or its role may not do this — every other row would be refused
            # too; stop, and leave the chunk unrecorded for --resume once that is fixed.
            stop_error = stop_error or exc
            return
        except EgactlError as exc:
            outcome = [{"line": it["line"], "status": FAILED, "error": exc.message} for it in items]
            ok = False
        with lock:
            if not ok:
                summary.failed_chunks += 1
            for r in outcome:
                writer.write(r)
                status = r.get("status") or FAILED
                summary.statuses[status] = summary.statuses.get(status, 0) + 1
                if status == FAILED:
                    summary.failed += 1
            summary.sent += len(items)
            writer.flush()
            if ok:
                done_log.write(f"{index}\n")
                done_log.flush()
        progress.advance(len(items))

    try:
        with progress, ThreadPoolExecutor(max_workers=job.workers, thread_name_prefix="egactl-bulk") as pool:
            pending: dict[Future, tuple[int, list[dict[str, Any]]]] = {}
            try:
                for index, items in _chunks(_valid_items(job), job.chunk_size):
                    if index in done:
                        progress.advance(len(items))
                        continue
                    if stop_error is not None:
                        break
                    while len(pending) >= job.workers * 2:
                        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for f in finished:
                            finish(*pending.pop(f), f)
                    pending[pool.submit(send, index, items)] = (index, items)
                for f in list(pending):
                    wait([f])
                    finish(*pending.pop(f), f)
            except KeyboardInterrupt:
                # Stop at once: queued chunks are cancelled (not recorded as done, so
                # --resume sends them). Those already on the wire finish; record their
                # answers, so that --resume does not send them again.
                pool.shutdown(wait=False, cancel_futures=True)
                try:
                    for f in list(pending):
                        if not f.cancelled():
                            wait([f])
                            finish(*pending.pop(f), f)
                except KeyboardInterrupt:
                    pass  # a second Ctrl-C: leave now; --resume re-sends the unrecorded chunks under the same keys
                raise
    except KeyboardInterrupt:
        writer.close()
        done_log.close()
        raise Interrupted("interrupted; what was sent is recorded",
                          hint="run the same command with --resume to continue") from None
    writer.close()
    done_log.close()
    if isinstance(stop_error, AuthError):
        raise AuthError(f"stopped: {stop_error.message}",
                        hint="use a token allowed to do this (`egactl auth login`), then run the same command with "
                             "--resume to continue; nothing was lost", problem=stop_error.problem)
    if stop_error is not None:
        raise Unreachable(stop_error.message, hint="nothing was lost; run the same command with --resume to continue")
    # Rows the server answered "failed" are final (the idempotency store would give the
    # same answer again), so the run is over; only chunks refused as a whole are left
    # for --resume to retry.
    if summary.failed_chunks == 0:
        state.save({"status": "complete", "nonce": nonce, "file": str(job.path), "results": str(results), "name": job.name})
    return summary


def finish_command(ctx: Any, summary: Summary) -> None:
    """Print the summary and exit 6 if rows failed (the standard ending of a bulk command)."""
    from egactl.output import Column

    cols = [Column("rows"), Column("invalid"), Column("sent"), Column("failed"), Column("statuses"), Column("results")]
    ctx.render(summary.as_dict(), cols)
    if summary.failed:
        if summary.failed_chunks:
            hint = f"see {summary.results}; fix the cause and run the same command with --resume to retry them"
        else:
            hint = f"see {summary.results} for which rows failed and why"
        raise PartialFailure(f"{summary.failed} of {summary.sent} rows failed", hint=hint)


class _Progress:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, io: Any, total: int, noun: str):
        self.bar = None
        if io.err_tty and os.environ.get("EGACTL_NO_PROGRESS") is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn(f"sending {noun}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                console=io.console("err"), transient=False)
            self.task = self.bar.add_task("send", total=total)

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar:
            self.bar.stop()

    def advance(self, n: int) -> None:
        if self.bar:
            self.bar.advance(self.task, n)
