"""Admission: the backend holds load in a bounded queue instead of dropping it.

Every API request (every path under ``/api/``, whichever plugin serves it)
passes one gate before it may touch the database. At most ``concurrency``
requests are inside at once; the others wait their turn, first come first
served, in a queue of at most ``queue_depth`` requests, each for at most
``queue_timeout`` seconds. A request that finds the queue full, or so long
that at the recent pace its turn would not come within ``queue_timeout``, is
answered at once with ``503`` and ``Retry-After`` (which egactl's client
honours); one whose wait runs out all the same gets the same answer then. No
request is held until something else times out.

The database connection pool and the request thread pool are sized from the
same ``concurrency`` (``Capacity``): an admitted request uses at most one
request thread and one connection at a time, so with more of each than
requests admitted, no admitted request ever waits for a thread or a
connection, and the two pools cannot starve each other (before this gate,
90 simultaneous clients took all 40 threads and 40 connections between them
and every request stalled for the pool's 30-second timeout).

Each response says how long it waited, measured by the server, in a standard
``Server-Timing: queue;dur=<ms>`` header (``desc="full"`` or ``"timeout"`` on
a refusal), so the wait can be checked from outside.
"""

from __future__ import annotations

import asyncio
import collections
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Any

DEFAULT_CONCURRENCY = 8
DEFAULT_QUEUE_DEPTH = 1000
DEFAULT_QUEUE_TIMEOUT = 5.0
#: Connections and threads beyond ``concurrency``: background workers, a
#: request's occasional second session, paths outside the gate.
RESERVE = 8


@dataclass(frozen=True)
class Capacity:
    """How much the backend takes on at once, and how long the rest may wait."""

    concurrency: int = DEFAULT_CONCURRENCY
    queue_depth: int = DEFAULT_QUEUE_DEPTH
    queue_timeout: float = DEFAULT_QUEUE_TIMEOUT

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.queue_depth < 0:
            raise ValueError(f"queue depth must be 0 or more, not {self.queue_depth}")
        if not self.queue_timeout > 0:
            raise ValueError(f"queue timeout must be more than 0 seconds, not {self.queue_timeout}")

    @property
    def pool_size(self) -> int:
        """Database connections kept open."""
        return self.concurrency + RESERVE

    @property
    def threads(self) -> int:
        """Request threads (the event loop's default thread limiter)."""
        return self.concurrency + RESERVE

    @classmethod
    def from_env(cls, **given: Any) -> "Capacity":
        """``given`` (non-None values) > ``EGACTL_SERVE_<SETTING>`` > the defaults."""
        names = {"concurrency": int, "queue_depth": int, "queue_timeout": float}
        values: dict[str, Any] = {}
        for name, kind in names.items():
            if given.get(name) is not None:
                values[name] = given[name]
                continue
            env = f"EGACTL_SERVE_{name.upper()}"
            raw = os.environ.get(env)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[name] = kind(raw)
            except ValueError:
                raise ValueError(f"{env}={raw!r} is not a number") from None
        return cls(**values)


class Refused(Exception):
    def __init__(self, reason: str, waited: float):
        super().__init__(reason)
        self.reason = reason
        self.waited = waited


class Gate:
    """A counting gate with a bounded FIFO of waiters, each with a deadline.

    A freed place is handed directly to the oldest waiter whose deadline has
    not passed (so no newcomer overtakes the queue, and no request is admitted
    after waiting longer than the limit); waiters past their deadline are
    refused as they are met.
    """

    def __init__(self, capacity: Capacity, loop: asyncio.AbstractEventLoop):
        self.capacity = capacity
        self.loop = loop
        self.free = capacity.concurrency
        self.queued = 0
        self._waiters: collections.deque[tuple[asyncio.Future, float]] = collections.deque()
        self._service = 0.05  # seconds a request stays inside, smoothed (for Retry-After)

    async def enter(self) -> float:
        """Wait for a place; returns the seconds waited, or raises ``Refused``."""
        arrived = time.monotonic()
        if self.free > 0 and not self.queued:
            self.free -= 1
            return 0.0
        if self.queued >= self.capacity.queue_depth or self.expected_wait() > self.capacity.queue_timeout:
            # Refused at once: waiting out the limit first would only make the answer slower.
            raise Refused("full", 0.0)
        deadline = arrived + self.capacity.queue_timeout
        fut: asyncio.Future = self.loop.create_future()
        self._waiters.append((fut, deadline))
        self.queued += 1
        timer = self.loop.call_later(self.capacity.queue_timeout, self._expire, fut)
        try:
            admitted_at = await fut
        except Refused:
            raise Refused("timeout", time.monotonic() - arrived) from None
        except asyncio.CancelledError:
            # The client went away while waiting (its task was cancelled).
            if not fut.done():
                fut.cancel()
            if fut.cancelled():
                self.queued -= 1  # still counted as waiting: count it out
            elif fut.exception() is None:
                self.leave(0.0)  # a place was handed over as we were cancelled: pass it on
            raise
        finally:
            timer.cancel()
        return admitted_at - arrived

    def _expire(self, fut: asyncio.Future) -> None:
        if not fut.done():
            self.queued -= 1
            fut.set_exception(Refused("timeout", self.capacity.queue_timeout))

    def leave(self, inside: float) -> None:
        """A request is done: hand its place to the next waiter still in time, or free it."""
        self._service += (inside - self._service) * 0.05
        now = time.monotonic()
        while self._waiters:
            fut, deadline = self._waiters.popleft()
            if fut.done():
                continue  # expired or cancelled; already counted out
            self.queued -= 1
            if now > deadline:
                fut.set_exception(Refused("timeout", now - deadline + self.capacity.queue_timeout))
                continue
            fut.set_result(now)
            return
        self.free += 1

    def expected_wait(self) -> float:
        """How long a request arriving now would wait: the queue ahead of it, at the recent pace."""
        return (self.queued + 1) * self._service / self.capacity.concurrency

    def retry_after(self) -> int:
        """Seconds after which a retry may find room: the queue's drain time, spread out.

        Spread at random between one and two drain times, so that the clients
        refused together do not all come back in the same instant.
        """
        return max(1, min(60, math.ceil(self.expected_wait() * random.uniform(1.0, 2.0))))


class AdmissionMiddleware:
    """The gate in front of every API request (see the module's docstring)."""

    def __init__(self, app, capacity: Capacity, prefix: str = "/api/"):
        self.app = app
        self.capacity = capacity
        self.prefix = prefix
        self._gate: Gate | None = None

    def gate(self) -> Gate:
        loop = asyncio.get_running_loop()
        gate = self._gate
        if gate is None or gate.loop is not loop:
            gate = self._gate = Gate(self.capacity, loop)
            _size_thread_pool(self.capacity.threads)
        return gate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        gate = self.gate()
        try:
            waited = await gate.enter()
        except Refused as refused:
            return await self._refuse(scope, receive, send, gate, refused)
        timing = f"queue;dur={waited * 1000:.1f}".encode()

        async def send_timed(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"server-timing", timing)])
            await send(message)

        inside = time.monotonic()
        try:
            await self.app(scope, receive, send_timed)
        finally:
            gate.leave(time.monotonic() - inside)

    async def _refuse(self, scope, receive, send, gate: Gate, refused: Refused) -> None:
        from starlette.requests import Request

        from egactl.server.problems import Problem

        seconds = gate.retry_after()
        if refused.reason == "full":
            detail = f"the server is busy ({gate.queued} requests are waiting); retry in {seconds} s"
        else:
            detail = (f"the server is busy (this request waited {self.capacity.queue_timeout:g} s for its turn); "
                      f"retry in {seconds} s")
        headers = {"Retry-After": str(seconds),
                   "Server-Timing": f'queue;dur={refused.waited * 1000:.1f};desc="{refused.reason}"'}
        await Problem(503, detail, headers=headers).response(Request(scope))(scope, receive, send)


def _size_thread_pool(threads: int) -> None:
    """``threads`` request threads (egactl.server.request_threads, where endpoints run), and as many
    tokens for the event loop's default thread limiter (the frame's other run_in_threadpool calls)."""
    from egactl.server import request_threads

    request_threads.size(threads)
    try:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
    except Exception:  # not under anyio's asyncio backend: nothing to size
        pass
