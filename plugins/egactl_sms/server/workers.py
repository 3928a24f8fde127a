"""The delivery worker: queued messages to the driver, at a set rate, crash-safe.

One ``tick`` (``egactl serve`` runs it in a thread, every quarter of a second
while idle; the sandbox after each mutating request):

1. *Recover* claims left by a worker that died: a message claimed more than
   ``lease_seconds`` ago and never handed over goes back to the queue; one that
   was being handed over when the worker died is marked failed with an
   "outcome unknown" reason and is **not** resent (see below).
2. *Expire* messages still queued ``expire_hours`` after their delivery time.
3. *Claim* due messages in one transaction (oldest first). Quiet hours
   (21:00-07:00 EAT) push group and bulk messages to 07:00; a number that opted
   out after its message was queued is rejected.
4. *Deliver*:

   - a transactional driver (``outbox``) records the messages and marks them
     delivered in that same transaction — exactly once by construction;
   - any other driver (``msdg``): the claim commits (``queued → submitting``
     with the tick's claim token); then, for each gateway request, its
     recipients are taken from the rate shared by every server (``rate``), the
     chunk is marked *dispatched* (commit), handed to the driver, and its
     outcome recorded (commit), guarded by the claim token so a zombie worker
     cannot overwrite a newer claim. Up to ``in_flight`` requests are under way
     at once (a thread pool); the tick claims about a second of the rate at a
     time, again while the last requests are out, until nothing is due or it
     has run ``tick_seconds``; it renews its claims while it lives.

Every change of a message's state goes through ``lifecycle.move``, which keeps
the batches' counters in the same transaction.

The exactly-once boundary, stated plainly: a worker that dies between
"dispatched" and "outcome recorded" leaves a chunk whose fate it cannot know —
the MSDG contract has no idempotency key or reference the gateway would use to
drop a repeated request, so resending could deliver twice and not resending
could lose it. egactl does not resend (a duplicate costs money and trust);
those messages become ``failed`` with a reason that says the outcome is
unknown, and they show up in ``egactl sms report``. The window is the dying
server's requests in flight (at most ``in_flight`` x ``msdg_chunk`` recipients). Everything claimed but not
yet dispatched is requeued; everything recorded is never sent again.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import select, update

from egactl_sms import rules
from egactl_sms.server import drivers, lifecycle
from egactl_sms.server.models import Batch, Message, OptOut
from egactl_sms.server.rate import SharedRate
from egactl_sms.server.service import chunked

log = logging.getLogger("egactl.sms.delivery")

PLUGIN = "sms"
SETTINGS: dict[str, Any] = {
    "driver": "outbox",          # outbox | msdg
    "rate": 50.0,                # recipients a second handed to the gateway by all servers together (0: no pacing)
    "claim_size": 500,           # messages taken off the queue per transaction (at most a second of the rate)
    "in_flight": 4,              # gateway requests under way at once, per server
    "rate_guard": 0.25,          # grants are given in the first 1 - this of each second (see rate.py)
    "tick_seconds": 2.0,         # a tick keeps delivering this long while messages are due (a stopping server waits 5 s for it)
    "lease_seconds": 300,        # a claim older than this belongs to a dead worker
    "expire_hours": 48,          # a message not sent this long after its time expires
    "max_attempts": 5,           # gateway unreachable this many times: failed
    "retry_seconds": 60,         # wait before retrying an unreachable gateway
    "price_per_segment": 20.0,   # for estimates and reports
    "currency": "TZS",
    "msdg_url": "",
    "msdg_api_key": "",
    "msdg_api_key_file": "",
    "msdg_account": "",
    "msdg_service_id": "",
    "msdg_chunk": 100,           # recipients per gateway request
    "msdg_timeout": 30.0,
}

UNKNOWN_OUTCOME = ("outcome unknown: the delivery worker stopped while handing this message to the gateway; "
                   "it was not resent, to avoid a duplicate; check the gateway's records before sending it again")
UNKNOWN_ANSWER = ("outcome unknown: {why}; it was not resent, to avoid a duplicate; check the gateway's records "
                  "before sending it again")
CANCELLED_LATE = "its batch was cancelled while this message waited to be retried"
OPTED_OUT_LATE = "the recipient opted out after the message was queued"

_noted: set[tuple[int, str]] = set()
_noted_lock = threading.Lock()


def _note_paused(be: Any, problem: str) -> None:
    """Once per backend and problem, in the server's log (not at every tick). The people who
    queue messages meanwhile are told by the answer to their send (``drivers.paused``); in the
    sandbox, where the backend's warnings also reach the command that is running, the note is
    for the log file only (INFO), so that command is not told twice."""
    with _noted_lock:
        if (id(be), problem) in _noted:
            return
        _noted.add((id(be), problem))
    log.log(logging.INFO if be.sandbox else logging.WARNING, "%s", drivers.paused_warning(problem))


def _pg(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def tick(be: Any) -> int:
    """One bounded round of delivery; returns how many messages changed state."""
    setting = functools.partial(be.setting, PLUGIN)
    stale = be.now() - dt.timedelta(seconds=float(setting("lease_seconds")))
    if not (_any(be, Message.state == "queued", Message.deliver_after <= be.now())
            or _any(be, Message.state == "submitting", Message.claimed_at < stale)):
        return 0  # nothing to do (expiry needs a due message too): no driver built, no connection made
    try:
        driver, owned = drivers.make(setting)
    except drivers.NotConfigured as exc:
        _note_paused(be, str(exc))
        return 0
    try:
        handled = _recover(be, setting) + _expire(be, setting)
        while True:
            if driver.transactional:
                n = _deliver_in_transaction(be, driver, setting)
            else:
                n = _deliver_claimed(be, driver, setting)
            handled += n
            if n == 0 or not driver.drain:
                return handled
    finally:
        if owned:
            driver.close()


def _any(be: Any, *conditions) -> bool:
    """A cheap read before taking the write lock: is there anything to do?"""
    with be.read_sessions() as s:
        return s.scalar(select(Message.id).where(*conditions).limit(1)) is not None


def _recover(be: Any, setting) -> int:
    stale = be.now() - dt.timedelta(seconds=float(setting("lease_seconds")))
    if not _any(be, Message.state == "submitting", Message.claimed_at < stale):
        return 0
    with be.write_sessions.begin() as s:
        requeued = lifecycle.move(s, Message.claimed_at < stale, Message.dispatched_at.is_(None),
                                  source="submitting", target="queued", values={"claim": None, "claimed_at": None})
        unknown = lifecycle.move(s, Message.claimed_at < stale, Message.dispatched_at.is_not(None),
                                 source="submitting", target="failed", values={"reason": UNKNOWN_OUTCOME, "claim": None})
    if requeued or unknown:
        log.warning("sms delivery recovered a dead worker's claims: %d requeued, %d with unknown outcome",
                    requeued, unknown)
    return requeued + unknown


def _expire(be: Any, setting) -> int:
    hours = float(setting("expire_hours"))
    limit = be.now() - dt.timedelta(hours=hours)
    if not _any(be, Message.state == "queued", Message.deliver_after < limit):
        return 0
    with be.write_sessions.begin() as s:
        return lifecycle.move(s, Message.deliver_after < limit, source="queued", target="expired",
                              values={"reason": f"not sent within {hours:g} hours of its delivery time"})


def _take_due(s, now: dt.datetime, limit: int) -> tuple[list[int], int]:
    """In the caller's write transaction: (ids to deliver now, rows touched).

    Quiet hours push group and bulk messages to 07:00 EAT; late opt-outs are rejected.
    """
    stmt = (select(Message.id, Message.quiet_ok, Message.institution, Message.recipient, Message.batch_id)
            .where(Message.state == "queued", Message.deliver_after <= now)
            .order_by(Message.deliver_after, Message.id).limit(limit))
    if _pg(s):
        stmt = stmt.with_for_update(skip_locked=True)
    rows = s.execute(stmt).all()
    touched = len(rows)
    if not rows:
        return [], 0
    # A message back in the queue (a retry, a dead worker's claim) whose batch was cancelled meanwhile.
    batches = sorted({r.batch_id for r in rows})
    cancelled_batches: set[int] = set()
    for part in chunked(batches):
        cancelled_batches.update(s.scalars(select(Batch.id).where(Batch.id.in_(part), Batch.cancelled_at.is_not(None))))
    if cancelled_batches:
        late = [r.id for r in rows if r.batch_id in cancelled_batches]
        for part in chunked(late):
            lifecycle.move(s, Message.id.in_(part), source="queued", target="cancelled",
                           values={"reason": CANCELLED_LATE})
        rows = [r for r in rows if r.batch_id not in cancelled_batches]
    if rules.is_quiet(now):
        waiting = [r.id for r in rows if not r.quiet_ok]
        release = rules.after_quiet_hours(now)
        for part in chunked(waiting):
            s.execute(update(Message).where(Message.id.in_(part)).values(deliver_after=release))
        rows = [r for r in rows if r.quiet_ok]
    opted: set[tuple[str, str]] = set()
    recipients = sorted({r.recipient for r in rows})
    for part in chunked(recipients):
        opted.update(s.execute(select(OptOut.institution, OptOut.phone).where(OptOut.phone.in_(part))))
    rejected = [r.id for r in rows if (r.institution, r.recipient) in opted]
    for part in chunked(rejected):
        lifecycle.move(s, Message.id.in_(part), source="queued", target="rejected", values={"reason": OPTED_OUT_LATE})
    gone = set(rejected)
    return [r.id for r in rows if r.id not in gone], touched


def _load(s, ids: list[int], claim: str | None = None) -> list[drivers.Outgoing]:
    out: list[drivers.Outgoing] = []
    for part in chunked(ids):
        stmt = (select(Message.id, Message.batch_id, Message.institution, Batch.sender, Message.recipient,
                       Message.body, Message.encoding, Message.segments)
                .join(Batch, Batch.id == Message.batch_id).where(Message.id.in_(part)))
        if claim is not None:
            stmt = stmt.where(Message.claim == claim)
        out += [drivers.Outgoing(*row) for row in s.execute(stmt)]
    out.sort(key=lambda m: m.id)
    return out


def _deliver_in_transaction(be: Any, driver: drivers.Driver, setting) -> int:
    now = be.now()
    if not _any(be, Message.state == "queued", Message.deliver_after <= now):
        return 0
    with be.write_sessions.begin() as s:
        ids, touched = _take_due(s, now, int(setting("claim_size")))
        if ids:
            driver.record(s, _load(s, ids), now)
            for part in chunked(ids):
                lifecycle.move(s, Message.id.in_(part), source="queued", target="delivered", values={
                    "submitted_at": now, "delivered_at": now, "attempts": Message.attempts + 1, "reason": None})
    return touched


class _Claims:
    """What one tick has claimed (``claim`` = its token) and not yet recorded."""

    def __init__(self, be: Any, setting):
        self.be = be
        self.setting = setting
        self.token = secrets.token_hex(8)
        self.lease = float(setting("lease_seconds"))
        self.renewed = time.monotonic()

    def take(self, limit: int) -> tuple[list[drivers.Outgoing], int]:
        """Claim up to ``limit`` due messages: (what to send, rows touched)."""
        now = self.be.now()
        if not _any(self.be, Message.state == "queued", Message.deliver_after <= now):
            return [], 0
        with self.be.write_sessions.begin() as s:
            ids, touched = _take_due(s, now, limit)
            for part in chunked(ids):
                lifecycle.move(s, Message.id.in_(part), source="queued", target="submitting", values={
                    "claim": self.token, "claimed_at": now, "dispatched_at": None, "attempts": Message.attempts + 1})
        if not ids:
            return [], touched
        with self.be.read_sessions() as s:
            return _load(s, ids, self.token), touched

    def renew(self) -> None:
        """Keep this live worker's claims from looking like a dead one's (``lease_seconds``)."""
        if time.monotonic() - self.renewed < self.lease / 3:
            return
        self.renewed = time.monotonic()
        with self.be.write_sessions.begin() as s:
            s.execute(update(Message).where(Message.claim == self.token, Message.state == "submitting")
                      .values(claimed_at=self.be.now()))

    def requeue_undispatched(self) -> None:
        """After an ordinary error (not a dying process): what was never dispatched goes
        straight back to the queue; a dispatched chunk waits for recovery."""
        with self.be.write_sessions.begin() as s:
            lifecycle.move(s, Message.claim == self.token, Message.dispatched_at.is_(None), source="submitting",
                           target="queued", values={"claim": None, "claimed_at": None})


def _chunks(claimed: list[drivers.Outgoing], size: int):
    """Gateway requests: recipients sharing a sender and text, at most ``size`` at a time."""
    groups: dict[tuple[str, str], list[drivers.Outgoing]] = {}
    for m in claimed:
        groups.setdefault((m.sender, m.body), []).append(m)
    for items in groups.values():
        for i in range(0, len(items), size):
            yield items[i:i + size]


def _hand_over(be: Any, driver: drivers.Driver, claims: _Claims, limiter: SharedRate | None,
               chunk: list[drivers.Outgoing], setting) -> None:
    """One chunk to the gateway, as the shared rate allows: each request recorded as dispatched
    before it is sent (committed with the rate's grant, or just after it: see ``rate``) and its
    outcome after (commit)."""

    def dispatched(s, n: int) -> None:
        s.execute(update(Message).where(Message.id.in_([m.id for m in chunk[:n]]), Message.claim == claims.token)
                  .values(dispatched_at=be.now()))

    while chunk:
        if limiter:
            n = limiter.take(len(chunk), then=dispatched)
            if not limiter.in_time():  # held up since the grant: sending now could exceed the rate
                continue
        else:
            n = len(chunk)
            with be.write_sessions.begin() as s:
                dispatched(s, n)
        part, chunk = chunk[:n], chunk[n:]
        ids = [m.id for m in part]
        outcome = driver.send(part[0].sender, part[0].body, [m.recipient for m in part], be.now())
        _record(be, claims.token, ids, outcome, setting)


def _deliver_claimed(be: Any, driver: drivers.Driver, setting) -> int:
    """Claim due messages and hand them to the driver, ``in_flight`` gateway requests at a
    time, until nothing is due or the tick has run ``tick_seconds``.

    Claims are taken about a second of the rate at a time (at most ``claim_size``), and the
    next one while ``in_flight`` requests still wait behind those under way: a claim costs
    about as long as a request, so claiming only when the last requests were under way left
    the requests' threads idle during every claim (a third of their time at 5,000/s). What is
    claimed and not yet sent stays under a second of the rate (or ``in_flight`` requests'
    worth, if more; twice that without a rate), so that what a dying server leaves claimed is small; a claim is renewed
    while its worker lives.
    """
    rate = float(setting("rate"))
    in_flight = max(1, int(setting("in_flight")))
    limit = int(setting("claim_size"))
    if rate > 0:
        limit = min(limit, max(driver.chunk_size, math.ceil(rate)))
    unsent_limit = (max(math.ceil(rate), in_flight * driver.chunk_size) if rate > 0
                    else 2 * in_flight * driver.chunk_size)
    limiter = SharedRate(be, rate, float(setting("rate_guard"))) if rate > 0 else None
    claims = _Claims(be, setting)
    budget = float(setting("tick_seconds"))
    started = time.monotonic()
    handled = 0
    if in_flight == 1:  # one request at a time, in this thread
        try:
            while True:
                claimed, touched = claims.take(limit)
                handled += touched
                for chunk in _chunks(claimed, driver.chunk_size):
                    _hand_over(be, driver, claims, limiter, chunk, setting)
                if not claimed or time.monotonic() - started > budget:
                    return handled
        except Exception:
            claims.requeue_undispatched()
            raise
    pool = ThreadPoolExecutor(in_flight, thread_name_prefix="egactl-sms-delivery")
    pending: dict[Future, int] = {}  # request → its recipients

    def settle(done_waiting) -> None:
        """Wait until ``done_waiting()``; a failed request raises."""
        while pending and not done_waiting():
            done, _ = wait(pending, timeout=max(claims.lease / 3, 0.1), return_when=FIRST_COMPLETED)
            claims.renew()
            for f in done:
                del pending[f]
                f.result()

    try:
        while True:
            claimed, touched = claims.take(limit)
            handled += touched
            for chunk in _chunks(claimed, driver.chunk_size):
                settle(lambda: len(pending) < 3 * in_flight)  # a claim of many texts: many small requests
                pending[pool.submit(_hand_over, be, driver, claims, limiter, chunk, setting)] = len(chunk)
            if not claimed or time.monotonic() - started > budget:
                break
            # claim again while requests still wait behind those under way
            settle(lambda: len(pending) < 2 * in_flight and sum(pending.values()) < unsent_limit)
        settle(lambda: False)
    except BaseException as exc:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True)
        if isinstance(exc, Exception):
            claims.requeue_undispatched()
        raise
    pool.shutdown(wait=True)
    return handled


def _record(be: Any, token: str, ids: list[int], outcome: drivers.Outcome, setting) -> None:
    now = be.now()
    mine = (Message.id.in_(ids), Message.claim == token)
    with be.write_sessions.begin() as s:
        if outcome.status == drivers.ACCEPTED:
            lifecycle.move(s, *mine, source="submitting", target="submitted", values={
                "submitted_at": now, "gateway_ref": outcome.ref, "reason": None, "claim": None})
        elif outcome.status == drivers.FAILED:
            lifecycle.move(s, *mine, source="submitting", target="failed",
                           values={"reason": outcome.reason, "claim": None})
        elif outcome.status == drivers.UNKNOWN:
            lifecycle.move(s, *mine, source="submitting", target="failed",
                           values={"reason": UNKNOWN_ANSWER.format(why=outcome.reason), "claim": None})
        else:  # RETRY: the gateway certainly did not take it
            attempts = int(setting("max_attempts"))
            lifecycle.move(s, *mine, Message.attempts >= attempts, source="submitting", target="failed", values={
                "reason": f"gave up after {attempts} attempts: {outcome.reason}", "claim": None})
            wait = dt.timedelta(seconds=float(setting("retry_seconds")))
            lifecycle.move(s, *mine, Message.attempts < attempts, source="submitting", target="queued", values={
                "claim": None, "claimed_at": None, "dispatched_at": None, "deliver_after": now + wait,
                "reason": f"will retry: {outcome.reason}"})
    if outcome.status != drivers.ACCEPTED:
        log.warning("sms delivery: %d message(s) %s: %s", len(ids), outcome.status, outcome.reason)
