"""egactl sms bulk / report / batches / cancel: sends as batches (a bulk campaign is
resumable), their reports, and cancelling what has not gone out yet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import (DEFAULT_LIMIT, All, Column, Conflict, CsvFile, DryRun, Institution, InvalidInput, Limit,
                               OldestFirst, PartialFailure, Restart, Results, Resume, SkipInvalid, Watch, Yes, bulk,
                               context, enforce, old_flags, page_limit, watch, watch_seconds)
from egactl.plugin.rules import RuleError
from egactl_sms import client, encoding, rules
from egactl_sms.commands.common import (BATCH_COLUMNS, Again, AllowQuietHours, At, Normalize, Sender, announce_delivery,
                                        check_sender, earlier, money, parse_at, plural, read_text,
                                        refused_as_duplicate)

CHUNK_SIZE = 2000
"""Recipients per POST: big enough that HTTP and transaction overhead vanish, small
enough that a chunk is well under a second of server work."""
WORKERS = 3

REPORT_COLUMNS = BATCH_COLUMNS[:6] + [Column("messages")] + [
    Column(f"states.{s}", s.upper()) for s in rules.STATES] + [
    Column("skipped.duplicate", "SKIPPED DUPLICATES"), Column("skipped.opted_out", "SKIPPED OPTED OUT"),
    Column("skipped.invalid", "SKIPPED INVALID"), Column("segments"),
    Column("estimated_cost", "COST", format=BATCH_COLUMNS[8].format), Column("currency"),
    Column("deliver_after", "DELIVER AFTER"), Column("created_at", "CREATED")]
CANCEL_COLUMNS = [Column("batch"), Column("institution"), Column("cancelled"),
                  Column("handed_over", "HANDED OVER (LEFT ALONE)")] + [
    Column(f"states.{s}", s.upper()) for s in rules.STATES] + [
    Column("cancelled_at", "CANCELLED AT"), Column("cancelled_by", "CANCELLED BY")]
CANCELLED_MESSAGE_COLUMNS = [Column("id"), Column("batch"), Column("to"), Column("state"), Column("reason"),
                             Column("deliver_after", "DELIVER AFTER")]



class _FirstPass:
    """What the validation pass learned, for the passes after it.

    ``bulk.run`` parses every row twice: once to validate the whole file, once
    to send. The second pass starts again from the first line, which is how a
    row knows which pass it is in. When the first pass found no invalid row,
    the second sends the rows as they are (the backend checks every one again,
    authoritatively) instead of repeating the same checks a million times.
    """

    def __init__(self) -> None:
        self.last_line = 0
        self.invalid = 0
        self.typographic = 0
        self.chars: dict[str, None] = {}

    def begin(self, line: int) -> bool:
        """True if this row is being seen for the first time."""
        if line <= self.last_line:
            return False
        self.last_line = line
        return True

    def note(self, a: encoding.Analysis) -> None:
        if a.typographic_only:
            self.typographic += 1
            self.chars.update(dict.fromkeys(a.non_gsm))

    def warning(self) -> str | None:
        if not self.typographic:
            return None
        return encoding.typographic_warning(encoding.Analysis(encoding.UCS2, 0, 0, tuple(self.chars)),
                                            messages=self.typographic)


def bulk_send(file: CsvFile,
              template: Annotated[Optional[str], typer.Option("--template", "-T", metavar="TEXT",
                                                              help='Message with CSV columns in braces: "Habari {name}, …".')] = None,
              template_file: Annotated[Optional[Path], typer.Option("--template-file", metavar="PATH",
                                                                    help="Read the template from this UTF-8 file.")] = None,
              phone_column: Annotated[str, typer.Option("--phone-column", metavar="COLUMN",
                                                        help="The CSV column holding the numbers.")] = "phone",
              sender: Sender = None, at: At = None, allow_quiet_hours: AllowQuietHours = False,
              normalize: Normalize = False, institution: Institution = None, skip_invalid: SkipInvalid = False,
              resume: Resume = False, restart: Restart = False, again: Again = False, results: Results = None,
              dry_run: DryRun = False):
    """Send a personalised SMS to every row of a CSV (a campaign), resumably.

    A campaign is sent once: running the same one again (same institution,
    sender, template, file content and schedule) is refused with exit 5,
    naming the earlier batch, unless --again is given. --resume continues an
    interrupted run (and of a finished one, only reports its batch);
    --restart cancels what the interrupted run's batch had not yet handed to
    the gateway and starts again from the first row.

    Examples:

      egactl sms bulk wadaiwa.csv -i RITA -T "Habari {name}, deni ni TZS {amount}." --dry-run

      egactl sms bulk wadaiwa.csv -i RITA -T "Habari {name}, deni ni TZS {amount}." --results out.csv

      egactl sms bulk wadaiwa.csv -i RITA -T "Habari {name}, deni ni TZS {amount}." --resume
    """
    ctx = context.get()
    if resume and restart:
        raise InvalidInput("give --resume or --restart, not both")
    inst = ctx.institution(institution)
    if (template is None) == (template_file is None):
        raise InvalidInput("give the message template with --template TEXT or --template-file PATH (one of them)")
    source = template if template is not None else read_text(ctx, None, template_file)
    tmpl = enforce(rules.compile_template, source)
    fields = tmpl.fields
    batch_body = {"institution": inst, "template": source, "sender": check_sender(sender), "at": parse_at(at),
                  "allow_quiet_hours": allow_quiet_hours, "normalize": normalize}
    what = f"this campaign ({file.name}, the same template, sender and schedule)"
    job = bulk.Job(name="sms-bulk", path=file, required=(phone_column, *fields), parse_row=lambda row, line: row,
                   options={**batch_body, "phone_column": phone_column}, chunk_size=CHUNK_SIZE, workers=WORKERS,
                   noun="recipients")
    # This job's record here: which run a --resume or --restart refers to.
    job_id = bulk.run_job_id(ctx, job) if file.is_file() else ""
    previous = bulk.JobState(job_id).load() if job_id else None
    previous_ref = f"{job_id}-{previous['nonce']}" if previous and previous.get("nonce") else None
    api = ctx.api()
    if resume and not dry_run and previous and previous.get("status") == "complete" and previous_ref:
        finished = client.batch_by_ref(api, inst, previous_ref)
        if finished is not None:
            _report_finished(ctx, finished)
            return
    replaces = previous_ref if restart and previous and previous.get("status") == "running" else None
    batch_body["digest"] = bulk.file_digest(file) if file.is_file() else None
    batch_body["again"] = again
    if replaces:
        batch_body["replaces"] = replaces
    # Sender approval, a time in the past, quiet hours, a campaign sent before: the backend's
    # answer, before any row is read. A resumed run skips it: its batch exists, even if its
    # --at has passed since.
    preflight = None if resume and not dry_run else client.preview_batch(api, batch_body)
    interrupted_here = bool(previous and previous.get("status") == "running" and not restart)
    if preflight and preflight.get("duplicate_of") and not interrupted_here:  # that case: bulk.run says what to do
        if dry_run:
            ctx.warn(f"{what} was already sent as {earlier(preflight['duplicate_of'])}; "
                        f"sending it would be refused without --again")
        else:
            raise Conflict(f"{what} was already sent as {earlier(preflight['duplicate_of'])}; nothing was sent",
                           hint="pass --again to send it again",
                           problem={"duplicate_of": preflight["duplicate_of"]})
    tally = _FirstPass()

    def check_row(row: dict[str, str]) -> tuple[dict[str, Any], encoding.Analysis]:
        try:
            to = rules.recipient(row.get(phone_column, ""))
        except RuleError as exc:
            raise bulk.RowError(str(exc)) from None
        values = {f: row.get(f, "") for f in fields}
        text = tmpl.render(values)
        if normalize:
            text = encoding.normalize(text)
        problem, analysis = rules.measure(text)
        if problem:
            raise bulk.RowError(problem)
        return {"to": to, "fields": values}, analysis

    def parse_row(row: dict[str, str], line: int) -> dict[str, Any]:
        if not tally.begin(line):
            if not tally.invalid:
                return {"to": row.get(phone_column, ""), "fields": {f: row.get(f, "") for f in fields}}
            return check_row(row)[0]
        try:
            item, analysis = check_row(row)
        except bulk.RowError:
            tally.invalid += 1
            raise
        tally.note(analysis)
        return item

    batch: dict[str, Any] = {}

    def before_submit(api: Any, run_id: str) -> None:
        # The run id survives --resume, so the resumed run finds the batch it opened. The key
        # changes with the body, so that a resume with other flags (--again) is not a 422.
        body = {**batch_body, "source": file.name, "client_ref": run_id}
        fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
        try:
            created = client.create_batch(api, body, idempotency_key=f"sms-batch-{run_id}-{fingerprint}")
        except Conflict as exc:
            earlier = (exc.problem or {}).get("duplicate_of") or {}
            if not (resume and earlier.get("kind") == "bulk" and not earlier.get("cancelled")):
                raise refused_as_duplicate(exc, what) from None
            # --resume without a record of the run here (another machine, a lost data directory):
            # continue in the campaign's batch; the recipients it already has are skipped there.
            created = client.batch(api, earlier["batch"])
            ctx.notice(f"no record of this run here; resuming the campaign's batch {created['id']} "
                          f"(recipients it already has are not sent again)")
        batch.update(created)
        if warning := tally.warning():
            ctx.warn(warning)
        announce_delivery(ctx, {**created, "at": batch_body["at"]})

    def submit(api: Any, items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return client.add_recipients(api, batch["id"], items, key)

    job.parse_row, job.submit = parse_row, submit
    summary = bulk.run(ctx, job, skip_invalid=skip_invalid, resume=resume, restart=restart, results=results,
                       dry_run=dry_run, before_submit=before_submit)
    if dry_run:
        estimate = _estimate(ctx, job, check_row, preflight, summary)
        if warning := tally.warning():
            ctx.warn(warning)
        announce_delivery(ctx, {**preflight, "at": batch_body["at"]})
        ctx.notice("dry run: nothing was sent")
        ctx.render(estimate, BULK_ESTIMATE_COLUMNS)
        return
    restarted = batch.get("restarted") or None
    data = {**summary.as_dict(), "batch": batch.get("id"), "deliver_after": batch.get("deliver_after"),
            "restarted": restarted}
    cols = [Column("batch"), Column("rows"), Column("invalid"), Column("sent", "PROCESSED"), Column("failed"),
            Column("statuses"), Column("deliver_after", "DELIVER AFTER"), Column("results")]
    if restarted:
        cols.insert(1, Column("restarted.cancelled", "CANCELLED IN REPLACED BATCH"))
        left = restarted.get("handed_over") or 0
        ctx.notice(f"restart: cancelled {restarted['cancelled']:,} unsent message"
                      f"{'s' if restarted['cancelled'] != 1 else ''} of the interrupted batch {restarted['batch']}"
                      + (f" ({left:,} already handed to the gateway could not be called back)" if left else ""))
    if not summary.failed and batch:
        ctx.success(f"Batch {batch.get('id')}: {summary.statuses.get('queued', 0)} messages queued; "
                    f"follow it with `egactl sms report {batch.get('id')}`")
    ctx.render(data, cols)
    if summary.failed and summary.failed_chunks and batch.get("id"):
        now = client.batch(ctx.api(), batch["id"])
        if now.get("cancelled_at"):
            raise PartialFailure(f"batch {batch['id']} was cancelled by {now.get('cancelled_by')} while this run was "
                                 f"sending; {summary.failed} of {summary.sent} recipients were not queued",
                                 hint="nothing more will be sent; to send the campaign anew, run the same command "
                                      "with --restart")
    if summary.failed:
        raise PartialFailure(f"{summary.failed} of {summary.sent} recipients failed",
                             hint=f"see {summary.results}; fix the cause and run again with --resume")


def _report_finished(ctx: Any, batch: dict[str, Any]) -> None:
    """--resume of a run that finished: nothing to do; say where its batch stands."""
    report = client.batch(ctx.api(), batch["id"])
    ctx.notice(f"this campaign's run finished already, as batch {batch['id']}; nothing to resume "
                  f"(follow it with `egactl sms report {batch['id']}`)")
    ctx.render(report, REPORT_COLUMNS)


BULK_ESTIMATE_COLUMNS = [
    Column("institution"), Column("sender", "FROM"), Column("rows"), Column("invalid"), Column("duplicates"),
    Column("opted_out", "OPTED OUT"), Column("recipients", "WILL SEND TO"), Column("encodings"),
    Column("segments", "SEGMENTS/MESSAGE"), Column("total_segments", "TOTAL SEGMENTS"),
    Column("estimated_cost", "ESTIMATED COST", format=money), Column("currency"),
    Column("deliver_after", "DELIVER AFTER"),
]


def _estimate(ctx: Any, job: bulk.Job, check_row, preflight: dict, summary: bulk.Summary) -> dict[str, Any]:
    """What a bulk run would send, computed here with the same rules as the backend:
    duplicates found with an on-disk set (memory stays flat), opt-outs from the backend."""
    import sqlite3
    import tempfile

    opted = {o["phone"] for page in client.optouts(ctx.api(), limit=None, institution=job.options["institution"]).pages()
             for o in page}  # page by page: only the numbers are kept
    encodings: dict[str, int] = {}
    segments: dict[str, int] = {}
    total = recipients = duplicates = opted_out = 0
    with tempfile.TemporaryDirectory(prefix="egactl-sms-") as tmp:
        seen = sqlite3.connect(str(Path(tmp) / "seen.db"))
        seen.execute("CREATE TABLE seen (phone TEXT PRIMARY KEY) WITHOUT ROWID")
        for line, row in bulk.read_csv(job.path, job.required):
            try:
                item, a = check_row(row)
            except bulk.RowError:
                continue
            if seen.execute("INSERT OR IGNORE INTO seen VALUES (?)", (item["to"],)).rowcount == 0:
                duplicates += 1
                continue
            if item["to"] in opted:
                opted_out += 1
                continue
            recipients += 1
            total += a.segments
            encodings[a.encoding] = encodings.get(a.encoding, 0) + 1
            segments[str(a.segments)] = segments.get(str(a.segments), 0) + 1
        seen.close()
    price = float(preflight["price_per_segment"])
    return {"dry_run": True, "kind": "bulk", "institution": preflight["institution"], "sender": preflight["sender"],
            "file": str(job.path), "rows": summary.rows, "invalid": summary.invalid, "duplicates": duplicates,
            "opted_out": opted_out, "recipients": recipients, "encodings": encodings, "segments": segments,
            "total_segments": total, "price_per_segment": price, "currency": preflight["currency"],
            "estimated_cost": round(total * price, 2), "deliver_after": preflight["deliver_after"],
            "waits_for_quiet_hours": preflight["waits_for_quiet_hours"]}


def _settled(report: dict[str, Any]) -> bool:
    """Nothing of the batch is waiting for the gateway any more (queued or being handed over)."""
    states = report.get("states") or {}
    return not any(states.get(s) for s in ("queued", "submitting"))


def report(batch_id: Annotated[int, typer.Argument(metavar="BATCH", help="Batch id (shown by send and bulk).")],
           watch_: Watch = None):
    """Count a batch's messages per state, with the commonest failure reasons.

    --watch reads the report again every few seconds (5, or SECONDS) until no
    message is queued or being handed to the gateway: redrawn in a terminal,
    one line per change when piped. A batch scheduled for later is watched
    until Ctrl-C.

    Examples:

      egactl sms report 1

      egactl sms report 1 -o json --query states

      egactl sms report 1 --watch 2
    """
    ctx = context.get()
    every = watch_seconds(watch_)
    if every is not None:
        watch(ctx, lambda: client.batch(ctx.api(), batch_id), REPORT_COLUMNS, every=every, done=_settled,
              what=f"egactl sms report {batch_id}")
        return
    data = client.batch(ctx.api(), batch_id)
    ctx.render(data, REPORT_COLUMNS)
    if ctx.fmt == "table" and data.get("failure_reasons") and not ctx.query:
        ctx.io.out.write("\n")
        ctx.render(data["failure_reasons"], [Column("state"), Column("count"), Column("reason")])


BATCHES_COLUMNS = BATCH_COLUMNS + [
    # -o wide: who sent it, when it was scheduled for, and the price it was costed at
    Column("created_by", "BY", wide=True), Column("scheduled_at", "SCHEDULED", wide=True),
    Column("price_per_segment", "PRICE/SEGMENT", wide=True), Column("skipped.invalid", "INVALID", wide=True)]


def batches(institution: Institution = None,
            kind: Annotated[Optional[str], typer.Option("--kind", metavar="KIND", help="quick, group or bulk.")] = None,
            limit: Limit = DEFAULT_LIMIT, all_: All = False, oldest_first: OldestFirst = False):
    """List sends (batches), newest first.

    Examples:

      egactl sms batches -i RITA

      egactl sms batches --kind group --oldest-first -o json
    """
    ctx = context.get()
    if kind is not None and kind not in ("quick", "group", "bulk"):
        raise typer.BadParameter("must be quick, group or bulk", param_hint="--kind")
    items = client.batches(ctx.api(), limit=page_limit(limit, all_), kind=kind,
                           oldest_first=True if oldest_first else None,
                           institution=institution.upper() if institution else None)
    ctx.render(items, BATCHES_COLUMNS, empty="No batches match.")


@old_flags({"-m": "--message"})
def cancel(batch_id: Annotated[Optional[int], typer.Argument(metavar="BATCH",
                                                             help="Batch id (shown by send and bulk).")] = None,
           message: Annotated[Optional[int], typer.Option("--message", metavar="ID",
                                                          help="Cancel this one message instead of a batch.")] = None,
           yes: Yes = False, dry_run: DryRun = False):
    """Cancel a send's messages that have not gone to the gateway yet.

    Queued and scheduled messages become `cancelled`; those already handed to
    the gateway (submitting, submitted, delivered) cannot be called back and
    are left alone, and counted. A cancelled batch takes no more recipients, so
    a bulk run still going stops with an error. Operators cancel their own
    institution's sends; the help desk cannot cancel.

    Examples:

      egactl sms cancel 1 --dry-run

      egactl sms cancel 1 --yes
    """
    ctx = context.get()
    if (batch_id is None) == (message is None):
        raise InvalidInput("give the batch to cancel (BATCH) or one message (--message ID), not both or neither")
    api = ctx.api()
    if message is not None:
        preview = client.cancel_message(api, message, dry_run=True)
        if dry_run:
            ctx.notice(f"dry run: message {message} would be cancelled" if preview["cancelled"]
                          else f"dry run: message {message} is already cancelled")
            ctx.render(preview, CANCELLED_MESSAGE_COLUMNS)
            return
        if preview["cancelled"]:
            ctx.confirm(f"Cancel message {message} to {preview['to']}?", yes=yes)
        out = client.cancel_message(api, message)
        if out["cancelled"]:
            ctx.success(f"Cancelled message {message}")
        else:
            ctx.notice(f"message {message} was already cancelled")
        ctx.render(out, CANCELLED_MESSAGE_COLUMNS)
        return
    assert batch_id is not None
    preview = client.cancel_batch(api, batch_id, dry_run=True)
    left_alone = (f"; {plural(preview['handed_over'])} already handed to the gateway cannot be called back"
                  if preview["handed_over"] else "")
    if dry_run:
        ctx.notice(f"dry run: would cancel {plural(preview['cancelled'])} of batch {batch_id}{left_alone}")
        ctx.render(preview, CANCEL_COLUMNS)
        return
    if preview["cancelled"]:
        ctx.confirm(f"Cancel {plural(preview['cancelled'])} of batch {batch_id} not yet sent?", yes=yes)
    out = client.cancel_batch(api, batch_id)
    left_alone = (f"; {plural(out['handed_over'])} already handed to the gateway were left alone"
                  if out["handed_over"] else "")
    ctx.success(f"Batch {batch_id}: cancelled {plural(out['cancelled'])}{left_alone}")
    ctx.render(out, CANCEL_COLUMNS)
