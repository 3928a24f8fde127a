"""Load is held, not dropped: a burst of clients against `egactl serve`.

A few hundred concurrent clients (bench/load.py's load: 90% directory reads,
10% creations) against a real server whose gate is set small, so that the
queue fills and waits run out. Every request must be answered: with its
result, or with a 503 carrying Retry-After (which the clients honour, as
egactl's own client does) — never a 500, a timeout or a dropped connection.
No admitted request may have waited past the configured limit, by the
server's own account (its Server-Timing header), and every creation that was
answered 201 is stored, once, and nothing else.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path


from tests.conftest import start_server

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 300
SECONDS = 3.0
GATE = {"EGACTL_SERVE_CONCURRENCY": "2", "EGACTL_SERVE_QUEUE_DEPTH": "60", "EGACTL_SERVE_QUEUE_TIMEOUT": "0.5"}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def _burst(tmp_path, database_url=None, processes=1):
    server = start_server(tmp_path, database_url, extra_env={**GATE, "EGACTL_SERVE_PROCESSES": str(processes)})
    try:
        outcome = asyncio.run(_bench().run_load(server.url, server.admin_token, clients=CLIENTS, duration=SECONDS,
                                                writes=0.1, timeout=60, tag="T"))
        listed = server.run("institutions", "list", "--all", "-o", "json", "--query", "[?starts_with(code, 'LD-')].code")
        assert listed.returncode == 0, listed.stderr
        return outcome, set(json.loads(listed.stdout))
    finally:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a server that stalls under the burst may not stop either
            server.proc.kill()
            server.proc.wait()


def _check(outcome, stored: set[str]) -> None:
    limit_ms = float(GATE["EGACTL_SERVE_QUEUE_TIMEOUT"]) * 1000
    attempts = outcome.attempts
    assert attempts, "no request was made"
    # Every answer is the result or "busy, retry after": nothing else, nothing unanswered.
    unexpected = [(a.method, a.status, a.error) for a in attempts
                  if not (a.status in (200, 201) or (a.status == 503 and a.retry_after))]
    assert not unexpected, f"{len(unexpected)} requests failed otherwise, e.g. {unexpected[:5]}"
    assert set(outcome.failures) <= {"503 (Retry-After, attempts used up)"}, outcome.failures
    # The server accounts for every wait, and admitted none that waited past the limit.
    assert all(a.queue_ms is not None for a in attempts), "a response without the server's queue timing"
    admitted = [a for a in attempts if a.status in (200, 201)]
    assert admitted, "nothing was admitted"
    assert max(a.queue_ms for a in admitted) <= limit_ms
    # The burst was bigger than the queue: the bound was reached, and answered at once.
    busy = [a for a in attempts if a.status == 503]
    assert busy, "the queue never filled: the test did not test the bound"
    assert all(int(a.retry_after) >= 1 for a in busy)
    assert any(a.queue_ms == 0 for a in busy), "no refusal came at once: each waited out the limit first"
    # What was answered 201 is stored, and nothing refused was.
    assert len(stored) == outcome.created


def test_a_burst_of_clients_is_held_not_dropped_sqlite(tmp_path):
    outcome, stored = _burst(tmp_path)
    _check(outcome, stored)


def test_a_burst_is_held_by_two_processes_sharing_sqlite(tmp_path):
    """`serve --processes 2`: each process has its own gate; SQLite's lock is shared between them."""
    outcome, stored = _burst(tmp_path, processes=2)
    _check(outcome, stored)


def test_a_burst_of_clients_is_held_not_dropped_postgres(tmp_path, postgres_url):
    outcome, stored = _burst(tmp_path, postgres_url)
    _check(outcome, stored)


def test_the_bench_clients_keep_their_connections(served):
    """bench/load.py's clients keep one connection open, as egactl's own client does (its
    connection pool). They once asked the parser whether to keep it after the answer was
    complete, when it always says no: every request paid for a new connection."""
    bench = _bench()
    port = int(served.url.rsplit(":", 1)[1])

    async def three_requests() -> list[int]:
        conn = bench.Connection("127.0.0.1", port, served.admin_token)
        ports = []
        try:
            for _ in range(3):
                status, _, _ = await conn.request("GET", "/api/v1/institutions")
                assert status == 200
                assert conn.writer is not None, "the client closed a connection the server kept open"
                ports.append(conn.writer.get_extra_info("sockname")[1])
        finally:
            await conn.close()
        return ports

    assert len(set(asyncio.run(three_requests()))) == 1


def test_the_bench_clients_close_what_the_server_closes():
    """An answer with `Connection: close` ends the connection; the next request opens another."""
    bench = _bench()

    async def run() -> None:
        async def answer(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            conn = bench.Connection("127.0.0.1", port, "token")
            for _ in range(2):
                status, _, body = await conn.request("GET", "/")
                assert (status, body) == (200, b"ok")
                assert conn.writer is None

    asyncio.run(run())


def test_a_bench_client_reconnects_when_the_server_closed_an_idle_connection():
    """uvicorn closes a connection idle for 5 s, e.g. while its client waits out a Retry-After.
    The client must notice before reusing it (as httpx's pool does), not count a failure."""
    bench = _bench()

    async def run() -> None:
        async def answer_once_then_close(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # keep-alive...
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.close()  # ...until the server's idle timeout

        server = await asyncio.start_server(answer_once_then_close, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            conn = bench.Connection("127.0.0.1", port, "token")
            try:
                for _ in range(2):
                    status, _, body = await conn.request("GET", "/")
                    assert (status, body) == (200, b"ok")
                    await asyncio.sleep(0.3)
            finally:
                await conn.close()

    asyncio.run(run())


def test_serve_refuses_a_bad_capacity_setting(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(EGACTL_DATA_DIR=str(tmp_path / "data"), EGACTL_CONFIG_DIR=str(tmp_path / "config"),
               EGACTL_SERVE_QUEUE_TIMEOUT="soon")
    r = subprocess.run([sys.executable, "-m", "egactl", "serve", "--port", "0"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "queue-timeout" in r.stderr
    r = subprocess.run([sys.executable, "-m", "egactl", "serve", "--port", "0", "--concurrency", "0"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "concurrency" in r.stderr
