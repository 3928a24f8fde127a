"""The delivery rate, shared by every server on one database.

``EGACTL_SMS_RATE`` (recipients a second handed to the gateway) holds for the
whole cluster, however many ``egactl serve`` processes deliver: before each
gateway request a worker takes its recipients from one row of
``sms_rate_windows``, under that row's lock.

The row is a fixed window on the **database's clock** (the one clock every
server shares): the current whole second and how many recipients were granted
in it. A request for *n* gets ``min(n, rate - used)`` (at least one), or, when
the second's allowance is spent, waits for the next second. Grants are handed
out only in the first ``1 - rate_guard`` of each second (by default its first
750 ms), so that a request granted in second *s* reaches the gateway within
*s* if its trip (recording it as dispatched, then the HTTP request) takes less
than the guard: counted per second at the gateway, no second holds more than
the rate. There is no burst beyond that: a second never holds more than
``rate``, the first included. Every server should be given the same rate; each
enforces its own against the shared window. The window is a whole second: a
rate below one a second is taken as one.

The row is every server's one point of contention, so a grant holds its lock as
briefly as the database allows. On PostgreSQL a grant is one statement in its
own transaction (autocommit): it locks the row (``SELECT … FOR UPDATE`` in a
``WITH``), reads the clock *after* the lock is held (the grant is made at that
instant), and writes the window, granting nothing when the second is closed or
spent. Nothing else happens under the lock: the worker records its request as
dispatched just after, in a transaction of its own (``then``). Before,
the lock was held over four round trips and the update of the chunk's hundred
messages: with two servers at 5,000/s, a grant waited 13–21 ms for the lock on
average. On SQLite (one writer at a time, one server) the grant is a short
transaction under the database's write lock, and the request is recorded as
dispatched in it.

A grant is used only while its second is still open: a worker held up after its
grant (recording the request on a loaded database, or waiting for a CPU) finds
it stale (``in_time``) and takes a fresh one instead of sending late; the stale
grant's share of its second goes unused (the rate errs low, never high).

What a grant does not cover: a gateway whose clock is off from the database's
by more than the guard counts its seconds differently (the sum over any two
seconds still holds), and a request slower than the guard to arrive once sent
lands in the next second.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

from sqlalchemy import select, text, update

from egactl_sms.server.models import RateWindow

WINDOW = "gateway"


def database_clock(session) -> float:
    """Seconds since the epoch on the database server's clock (shared by every server)."""
    if session.get_bind().dialect.name == "postgresql":
        return float(session.scalar(text("SELECT extract(epoch FROM clock_timestamp())")))
    return float(session.scalar(text("SELECT (julianday('now') - 2440587.5) * 86400.0")))


# One statement: lock the window's row, read the clock under the lock, grant what the second
# still allows (nothing when it is closed or spent), commit. The clock is read in ``now``, which
# reads the locked row, so it is read once the lock is held.
_GRANT = text("""
WITH locked AS (
    SELECT second, used FROM sms_rate_windows WHERE name = :name FOR UPDATE
), clock AS (
    SELECT locked.second AS last_second, locked.used AS last_used,
           extract(epoch FROM clock_timestamp())::float8 AS at FROM locked
), win AS (
    SELECT floor(at)::bigint AS second, at,
           CASE WHEN last_second = floor(at)::bigint THEN last_used ELSE 0 END AS used FROM clock
)
UPDATE sms_rate_windows
SET second = win.second, used = win.used + LEAST(:wanted, :allowance - win.used)
FROM win
WHERE sms_rate_windows.name = :name AND win.at - win.second < :open_for AND win.used < :allowance
RETURNING LEAST(:wanted, :allowance - win.used) AS granted, win.at - win.second AS into_second
""")


class SharedRate:
    """``take(n, then)``: how many of ``n`` recipients may go now (waits until at least one may).

    ``then(session, granted)`` records the grant's use (the worker marks its request as
    dispatched): on SQLite in the grant's own transaction (one commit for both, under the write
    lock the grant holds anyway: a second transaction would wait for that lock again, and its
    request could reach the gateway after the guard); on PostgreSQL in a transaction of its own
    just after the grant, so that the rate's row is not locked while messages are updated."""

    def __init__(self, be: Any, rate: float, guard: float = 0.25, sleep: Callable[[float], None] = time.sleep):
        self.be = be
        self.allowance = max(1, int(rate))
        self.open_for = min(max(1.0 - guard, 0.05), 1.0)
        self.sleep = sleep
        self._postgres = be.engine.dialect.name == "postgresql"
        self._row_made = False
        self._mine = threading.local()  # each delivery thread's last grant: until when it may be sent

    def take(self, wanted: int, then: Callable[[Any, int], None] | None = None) -> int:
        while True:
            granted, wait = self._try(wanted, then)
            if granted:
                return granted
            self.sleep(wait)

    def in_time(self) -> bool:
        """Whether this thread's last grant may still be sent: its second is still in the part
        where grants are made (``1 - guard``), so the request arrives within it if its trip
        takes less than the guard. A thread held up between its grant and its request (a
        loaded machine) asks for a fresh grant instead of sending into the next second."""
        return time.monotonic() < getattr(self._mine, "until", 0.0)

    def _granted(self, into_second: float, asked: float) -> None:
        """This thread's grant, made ``into_second`` into its second, at some instant after
        ``asked`` (this machine's monotonic clock, read before asking): its second's open
        part ends no earlier than ``asked`` plus what was left of it. Read after the answer,
        the clock would count a thread held up between the grant and its reading (a loaded
        machine) as time still left, and a stale grant could be sent into the next second."""
        self._mine.until = asked + (self.open_for - into_second)

    def _try(self, wanted: int, then: Callable[[Any, int], None] | None = None) -> tuple[int, float]:
        """(granted, seconds to wait before asking again)."""
        if not self._row_made:
            with self.be.write_sessions.begin() as s:
                self._locked(s)
            self._row_made = True
        if not self._postgres:
            return self._try_in_transaction(wanted, then)
        with self.be.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            asked = time.monotonic()  # the grant is made after this: its second's open part ends no earlier
            row = c.execute(_GRANT, {"name": WINDOW, "wanted": wanted, "allowance": self.allowance,
                                     "open_for": self.open_for}).first()
            if row is None or not row.granted:
                now = float(c.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar())
                return 0, math.floor(now) + 1 - now  # closed or spent: ask again at the next second
        granted, into_second = int(row.granted), float(row.into_second)
        self._granted(into_second, asked)
        if then is not None:
            with self.be.write_sessions.begin() as s:
                then(s, granted)
            if not self.in_time():
                # Recording the request took so long (a loaded database) that it could reach
                # the gateway in the next second, beyond the rate: the grant is left unused
                # (the rate errs low) and the request waits for a grant it can still keep.
                # Recording it again is harmless: it marks the same messages.
                return 0, 0.0
        return granted, 0.0

    def _try_in_transaction(self, wanted: int, then) -> tuple[int, float]:
        with self.be.write_sessions.begin() as s:
            row = self._locked(s)
            asked = time.monotonic()
            now = database_clock(s)  # read under the lock: the grant is made at this instant
            second = math.floor(now)
            if now - second >= self.open_for:
                return 0, second + 1 - now
            used = row.used if row.second == second else 0
            free = self.allowance - used
            if free <= 0:
                return 0, second + 1 - now
            granted = min(wanted, free)
            s.execute(update(RateWindow).where(RateWindow.name == WINDOW).values(second=second, used=used + granted))
            self._granted(now - second, asked)
            if then is not None:
                then(s, granted)
            return granted, 0.0

    @staticmethod
    def _locked(s) -> RateWindow:
        stmt = select(RateWindow).where(RateWindow.name == WINDOW).with_for_update()
        row = s.scalar(stmt)
        if row is None:
            from egactl_sms.server.service import dialect_insert

            s.execute(dialect_insert(s)(RateWindow).values(name=WINDOW, second=0, used=0)
                      .on_conflict_do_nothing(index_elements=["name"]))
            row = s.scalar(stmt)
        return row
