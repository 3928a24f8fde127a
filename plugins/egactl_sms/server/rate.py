"""The delivery rate, shared by every server on one database.

``EGACTL_SMS_RATE`` (recipients a second handed to the gateway) holds for the
whole cluster, however many ``egactl serve`` processes deliver: before each
gateway request a worker takes its recipients from one row of
``sms_rate_windows``, under that row's lock (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's single write lock), in a transaction of its own.

The row is a fixed window on the **database's clock** (the one clock every
server shares): the current whole second and how many recipients were granted
in it. A request for *n* gets ``min(n, rate - used)`` (at least one), or, when
the second's allowance is spent, waits for the next second. Grants are handed
out only in the first ``1 - rate_guard`` of each second (by default its first
750 ms), so that a request granted in second *s* reaches the gateway within
*s* if its trip (recording it as dispatched, then the HTTP request) takes less
than the guard: counted per second at the gateway, no second holds more than
the rate. There is no burst beyond that: a second never holds more than
``rate``, the first included. The price: a row lock held for a few
milliseconds per gateway request, cluster-wide (10 a second at 1,000/s with
chunks of 100). Every server should be given the same rate; each enforces its
own against the shared window. The window is a whole second: a rate below one
a second is taken as one.

What a grant does not cover: a gateway whose clock is off from the database's
by more than the guard counts its seconds differently (the sum over any two
seconds still holds), and a request slower than the guard to arrive lands in
the next second.
"""

from __future__ import annotations

import math
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


class SharedRate:
    """``take(n)``: how many of ``n`` recipients may go now (waits until at least one may).

    ``then(session, granted)`` runs in the grant's own transaction (the worker records
    the request as dispatched there: one commit for both)."""

    def __init__(self, be: Any, rate: float, guard: float = 0.25, sleep: Callable[[float], None] = time.sleep):
        self.be = be
        self.allowance = max(1, int(rate))
        self.open_for = min(max(1.0 - guard, 0.05), 1.0)
        self.sleep = sleep

    def take(self, wanted: int, then: Callable[[Any, int], None] | None = None) -> int:
        while True:
            granted, wait = self._try(wanted, then)
            if granted:
                return granted
            self.sleep(wait)

    def _try(self, wanted: int, then: Callable[[Any, int], None] | None = None) -> tuple[int, float]:
        """(granted, seconds to wait before asking again)."""
        with self.be.write_sessions.begin() as s:
            row = self._locked(s)
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
