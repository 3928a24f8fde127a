"""bench/load.py: does `egactl serve` hold load, or drop it?

N concurrent clients for T seconds against a real `egactl serve` on loopback,
each sending one request after another: 90% `GET /api/v1/institutions` (a
page of the directory), 10% creating an institution (a POST with an
Idempotency-Key). A client does what egactl's own client does with a 503 that
carries `Retry-After`: it waits as told and sends the request again (at most
four attempts). Figures per level of N:

- requests/s: requests answered successfully, per second of the run;
- p50 / p99: latency of those requests, retries included (what a user waits);
- 503s: answers "busy, retry after …" (each was retried; how fast they came);
- cpu ms: the server process's CPU time per successful request (all its
  threads), which a busy machine distorts far less than requests/s;
- errors by kind: every request that finally failed (status code, timeout,
  connection error). A request still unanswered when the run ends counts as a
  timeout.

    python bench/load.py [--clients 10,100,1000] [--duration 5] [--database sqlite,postgresql]
                         [--baseline DIR [--baseline-without httptools,uvloop]]
                         [--server-arg=--processes=2 ...]

`--baseline DIR` runs the same levels first against the server of another
checkout (e.g. `git archive <commit> | tar -x -C DIR`), in this same run, and
prints the ratios of the two. Only loopback is used; every level is bounded in
time (the run, then at most `--timeout` for what is still in flight).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MAX_ATTEMPTS = 4  # egactl's client default (`retries`)


# -- the load --------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One HTTP exchange as the client saw it."""

    method: str
    status: int | None  # None: no answer (see error)
    seconds: float
    retry_after: str | None = None
    queue_ms: float | None = None  # the server's own account (Server-Timing: queue), when it gives one
    error: str | None = None


@dataclass
class Outcome:
    duration: float
    clients: int
    ok_latencies: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    attempts: list[Attempt] = field(default_factory=list)
    created: int = 0  # creations answered 201
    cut_off: int = 0  # clients still waiting out a Retry-After when the run's bound ended them
    server_cpu: float | None = None  # CPU seconds the server process used meanwhile

    @property
    def cpu_per_request(self) -> float | None:
        return self.server_cpu / self.completed if self.server_cpu is not None and self.completed else None

    @property
    def completed(self) -> int:
        return len(self.ok_latencies)

    @property
    def rate(self) -> float:
        return self.completed / self.duration if self.duration else 0.0

    def percentile(self, p: float) -> float | None:
        if not self.ok_latencies:
            return None
        data = sorted(self.ok_latencies)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

    @property
    def busy(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status == 503]


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def _queue_ms(server_timing: str | None) -> float | None:
    """`queue;dur=12.5` from a Server-Timing header, in milliseconds."""
    for metric in (server_timing or "").split(","):
        name, *params = [p.strip() for p in metric.split(";")]
        if name == "queue":
            for p in params:
                if p.startswith("dur="):
                    try:
                        return float(p[4:])
                    except ValueError:
                        return None
    return None


class Connection:
    """One client's keep-alive HTTP/1.1 connection on loopback.

    The load generator shares the machine with the server, so it must cost
    far less per request than the server does: httpx's connection pool spent
    about twice the server's CPU per request at 50 clients. A plain asyncio
    stream per client and httptools' parser (a dependency of `serve`) cost a
    fraction of that.
    """

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except Exception:
                pass
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes | None = None,
                      headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        import httptools

        if self.writer is not None and self.reader is not None and self.reader.at_eof():
            # The server closed the connection while it was idle (uvicorn closes one after
            # 5 s without a request, e.g. while this client waited out a Retry-After): a
            # client drops such a connection from its pool before using it, as httpx does.
            await self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode(), self.auth]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}\r\n".encode())
        if body is not None:
            head.append(f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode())
        head.append(b"\r\n")
        self.writer.write(b"".join(head) + (body or b""))

        got: dict[str, str] = {}
        chunks: list[bytes] = []
        done = False
        keep_alive = True

        class Callbacks:
            def on_header(self, name: bytes, value: bytes) -> None:
                got[name.decode("latin-1").lower()] = value.decode("latin-1")

            def on_headers_complete(self) -> None:
                # Asked here, while the parser still holds the answer's headers: once
                # the message is complete it has reset, and would always say False.
                nonlocal keep_alive
                keep_alive = parser.should_keep_alive()

            def on_body(self, data: bytes) -> None:
                chunks.append(data)

            def on_message_complete(self) -> None:
                nonlocal done
                done = True

        parser = httptools.HttpResponseParser(Callbacks())
        while not done:
            data = await self.reader.read(65536)
            if not data:
                await self.close()
                raise ConnectionResetError("the server closed the connection")
            parser.feed_data(data)
        status = parser.get_status_code()
        if not keep_alive:
            await self.close()
        return status, got, b"".join(chunks)


async def run_load(url: str, token: str, *, clients: int, duration: float, writes: float = 0.1,
                   timeout: float = 40.0, seed: int = 1, tag: str = "") -> Outcome:
    """``clients`` concurrent clients for ``duration`` seconds; bounded by ``duration + timeout``."""
    from urllib.parse import urlsplit

    raise_fd_limit(clients + 256)
    rnd = random.Random(seed)
    out = Outcome(duration=duration, clients=clients)
    counter = 0
    tag = tag or f"{os.getpid() % 10000:04d}{rnd.randrange(10000):04d}"
    where = urlsplit(url)
    started = time.monotonic()
    stop_at = started + duration
    retrying: set[asyncio.Task] = set()  # clients waiting as a Retry-After told them

    async def one_request(conn: Connection) -> None:
        nonlocal counter
        body, headers = None, None
        if rnd.random() < writes:
            counter += 1
            code = f"LD-{tag}-{counter}"
            body = json.dumps({"code": code, "name": f"Load test {counter}", "kind": "other"}).encode()
            headers = {"Idempotency-Key": f"load-{code}"}
            method = "POST"
        else:
            method = "GET"
        first = time.monotonic()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            t0 = time.monotonic()
            try:
                async with asyncio.timeout(timeout):
                    status, got, _ = await conn.request(method, "/api/v1/institutions", body, headers)
            except TimeoutError:
                await conn.close()
                out.attempts.append(Attempt(method, None, time.monotonic() - t0, error="timeout"))
                out.failures["timeout"] += 1
                return
            except (OSError, asyncio.IncompleteReadError) as exc:
                await conn.close()
                out.attempts.append(Attempt(method, None, time.monotonic() - t0, error=type(exc).__name__))
                out.failures[f"connection: {type(exc).__name__}"] += 1
                return
            a = Attempt(method, status, time.monotonic() - t0, got.get("retry-after"),
                        _queue_ms(got.get("server-timing")))
            out.attempts.append(a)
            if status in (429, 503) and a.retry_after and attempt < MAX_ATTEMPTS:
                try:
                    wait = min(float(a.retry_after), 60.0)
                except ValueError:
                    wait = 1.0
                retrying.add(asyncio.current_task())
                try:
                    await asyncio.sleep(wait)
                finally:
                    retrying.discard(asyncio.current_task())
                continue
            if status < 400:
                out.ok_latencies.append(time.monotonic() - first)
                out.created += status == 201
            else:
                kind = f"{status}" + (" (Retry-After, attempts used up)" if a.retry_after else "")
                out.failures[kind] += 1
            return

    async def client() -> None:
        conn = Connection(where.hostname or "127.0.0.1", where.port or 80, token)
        try:
            while time.monotonic() < stop_at:
                await one_request(conn)
        finally:
            await conn.close()

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    done, pending = await asyncio.wait(tasks, timeout=duration + timeout + 5)
    for t in pending:
        if t in retrying:
            out.cut_off += 1  # answered (503, Retry-After) and waiting as told: not a failure
        else:
            out.failures["timeout (unanswered at the end)"] += 1
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for t in done:
        if t.exception() is not None:
            out.failures[f"client error: {type(t.exception()).__name__}"] += 1
    out.duration = max(duration, 1e-9)
    return out


# -- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port}")


class Server:
    """`egactl serve` of a checkout (its code first on PYTHONPATH), on a free loopback port."""

    def __init__(self, checkout: Path, database_url: str, workdir: Path, args: list[str], rows: int,
                 without: list[str] = ()):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
        path = [str(checkout), str(checkout / "plugins")]
        if without:
            # Modules this server must not find (as on a machine where they were never installed).
            hide = workdir / f"without-{'-'.join(without)}"
            hide.mkdir(exist_ok=True)
            for module in without:
                (hide / f"{module}.py").write_text(f"raise ImportError('{module} hidden by bench/load.py')\n")
            path.insert(0, str(hide))
        self.env.update(PYTHONPATH=os.pathsep.join(path),
                        EGACTL_CONFIG_DIR=str(workdir / "config"), EGACTL_DATA_DIR=str(workdir / "data"),
                        EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1")
        egactl = [sys.executable, "-m", "egactl"]
        r = subprocess.run([*egactl, "serve", "tokens", "create", "--role", "admin", "--subject", "bench",
                            "--database-url", database_url, "-o", "json"],
                           env=self.env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"serve tokens create failed: {r.stderr}")
        self.token = json.loads(r.stdout)["token"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / f"serve-{self.port}.log", "w")
        self.proc = subprocess.Popen([*egactl, "serve", "--port", str(self.port), "--database-url", database_url,
                                      "--no-workers", *args],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        wait_for_port(self.port, self.proc)
        self._seed(rows)

    def _seed(self, rows: int) -> None:
        import httpx

        items = [{"line": i + 1, "code": f"BENCH-{i:04d}", "name": f"Institution {i}", "kind": "agency",
                  "region": "Dodoma"} for i in range(rows)]
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60) as c:
            r = c.post("/api/v1/institutions/bulk", json={"items": items}, headers={"Idempotency-Key": "bench-seed"})
            r.raise_for_status()

    def healthy(self, timeout: float = 60) -> bool:
        """Wait until the server answers a read again (after a level that overloaded it)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = httpx.get(self.url + "/api/v1/institutions?limit=1", timeout=5,
                              headers={"Authorization": f"Bearer {self.token}"})
                if r.status_code == 200:
                    return True
            except Exception:
                pass
            time.sleep(0.5)
        return False

    def cpu(self) -> float | None:
        """CPU seconds (user + system, all threads) the server has used: its process and those it started."""
        stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, CPU seconds)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                stats[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
            except (OSError, ValueError, IndexError):
                continue
        if self.proc.pid not in stats:
            return None
        tree, grew = {self.proc.pid}, True
        while grew:
            grew = False
            for pid, (parent, _) in stats.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        return sum(stats[pid][1] for pid in tree)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """A throwaway PostgreSQL 15 on loopback, for this run only."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="egactl-bench-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
        self.port = free_port()
        self.data = self.base / "data"
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                                     "--no-sync", "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"),
                                     "-w", "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                                                 f"-c fsync=off -c max_connections=300", "start"]),
                       check=True, capture_output=True, timeout=120)

    def database(self) -> str:
        name = f"bench_{random.randrange(1 << 30):x}"
        subprocess.run(_as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                     "-U", "postgres", name]), check=True, capture_output=True, timeout=60)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


# -- the report ------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def row(label: str, db: str, o: Outcome) -> str:
    busy = o.busy
    busy_ms = f"{ms(sorted(a.seconds for a in busy)[len(busy) // 2])}" if busy else "-"
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(o.failures.items())) or "none"
    if o.cut_off:
        errors += f" ({o.cut_off} clients still waiting out a Retry-After at the end)"
    cpu = o.cpu_per_request
    return (f"{label:<9} {db:<10} {o.clients:>6} {o.rate:>8.0f} {ms(o.percentile(50)):>7} {ms(o.percentile(99)):>7} "
            f"{'-' if cpu is None else f'{cpu * 1000:.2f}':>8} {len(busy):>6} {busy_ms:>8}  {errors}")


HEADER = (f"{'code':<9} {'database':<10} {'N':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>8} "
          f"{'503s':>6} {'503 p50':>8}  errors (requests that finally failed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="10,100,1000", help="comma-separated levels of concurrent clients")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per level")
    parser.add_argument("--database", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--writes", type=float, default=0.1, help="share of requests that write")
    parser.add_argument("--rows", type=int, default=50, help="institutions in the directory before the run")
    parser.add_argument("--timeout", type=float, default=40.0, help="client timeout; also the drain bound")
    parser.add_argument("--baseline", type=Path, help="a checkout whose server is measured first, for ratios")
    parser.add_argument("--baseline-without", default="",
                        help="modules the baseline server must not import, e.g. httptools,uvloop (libraries "
                             "this code added, which uvicorn would otherwise pick up for the baseline too)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra `egactl serve` option (this code only)")
    args = parser.parse_args()

    levels = [int(n) for n in args.clients.split(",")]
    databases = [d.strip() for d in args.database.split(",")]
    without = [m for m in args.baseline_without.split(",") if m]
    codes = ([("baseline", args.baseline.resolve(), [], without)] if args.baseline else []) + \
        [("this", HERE, args.server_arg, [])]
    workdir = Path(tempfile.mkdtemp(prefix="egactl-bench-load-"))
    pg = Postgres() if "postgresql" in databases else None
    results: dict[tuple[str, str, int], Outcome] = {}
    print(HEADER, flush=True)
    try:
        for db in databases:
            # Both servers run side by side and take turns level by level, so
            # that whatever else the machine is doing weighs on both alike.
            servers = {}
            try:
                for label, checkout, extra, hidden in codes:
                    url = pg.database() if db == "postgresql" and pg else f"sqlite:///{workdir / f'{label}-{db}.db'}"
                    servers[label] = Server(checkout, url, workdir, extra, args.rows, hidden)
                for n in levels:
                    for label, server in servers.items():
                        if not server.healthy():
                            print(f"{label:<9} {db:<10} {n:>6}  server did not recover from the previous level",
                                  flush=True)
                            continue
                        before = server.cpu()
                        o = asyncio.run(run_load(server.url, server.token, clients=n, duration=args.duration,
                                                 writes=args.writes, timeout=args.timeout))
                        after = server.cpu()
                        o.server_cpu = after - before if before is not None and after is not None else None
                        results[(label, db, n)] = o
                        print(row(label, db, o), flush=True)
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        if pg:
            pg.stop()
    if args.baseline:
        print("\nthis code / baseline (same run, same machine):")
        for db in databases:
            for n in levels:
                b, t = results.get(("baseline", db, n)), results.get(("this", db, n))
                if not b or not t:
                    continue
                rate = f"{t.rate / b.rate:.1f}x" if b.rate else "inf (baseline completed none)"
                p99b, p99t = b.percentile(99), t.percentile(99)
                p99 = f"{p99t / p99b:.2f}x" if p99b and p99t else "-"
                cb, ct = b.cpu_per_request, t.cpu_per_request
                cpu = f"{cb / ct:.1f}x" if cb and ct else "-"
                print(f"  {db:<10} N={n:<5} requests/s {rate:>8}   requests per CPU-second {cpu:>6}   p99 {p99:>6}   "
                      f"failed {sum(b.failures.values())} -> {sum(t.failures.values())}")
    print(f"\n(server logs in {workdir})")


if __name__ == "__main__":
    main()
