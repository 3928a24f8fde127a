"""The threads a plain (synchronous) endpoint runs on.

A request hands its endpoint to a thread and waits for the answer: one hand-over
each way per request, on the path of every read. A standard
``concurrent.futures.ThreadPoolExecutor`` hands work over through a queue written
in C, where the thread pool Starlette uses by default (anyio's) goes through a
Python queue and a capacity limiter: measured on ``GET /api/v1/institutions``
in-process, the executor costs about 8% less CPU per request (bench/load.py's
"cpu ms" shows the same on a real server). The context (the request's scope) is
carried over, as anyio does.

The pool is one per process, shared by every app in it (the in-process sandbox
makes one per command), and sized by the admission gate to its ``threads``: the
gate lets at most ``concurrency`` requests work at once, so an endpoint never
waits for a thread. It only grows: a larger capacity replaces the pool (work
already handed to the old one finishes there).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_size = 0

DEFAULT_THREADS = 16
"""Until a gate sizes the pool (an app called without the admission middleware, e.g. in a test)."""


def size(threads: int) -> None:
    """At least ``threads`` threads from now on."""
    global _pool, _size
    with _lock:
        if threads <= _size:
            return
        old, _pool, _size = _pool, ThreadPoolExecutor(threads, thread_name_prefix="egactl-request"), threads
    if old is not None:
        old.shutdown(wait=False)


async def run(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` on a request thread, in the caller's context; its result or exception.

    A cancelled caller (the server shutting down) still waits for the thread to
    finish before the cancellation goes on, as anyio's threads do: the request's
    clean-up (rollback, closing the session) must never run while the endpoint
    still uses the session on its thread.
    """
    if _pool is None:
        size(DEFAULT_THREADS)
    context = contextvars.copy_context()
    done = asyncio.get_running_loop().run_in_executor(_pool, context.run, func, *args)
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        await asyncio.wait([done])
        raise
