"""Benchmark: SMS delivery throughput against the configured rate, with 1 and 2 servers.

For each configured rate (``--rates``, recipients a second) and each number of
``egactl serve`` processes (``--servers``), on one throwaway PostgreSQL 15
database:

1. a campaign of identical texts (so that the gateway requests carry
   ``msdg_chunk`` recipients each) is queued while delivery is paused (a server
   started without the gateway's settings queues but does not deliver), then
   held: its delivery time is moved a day ahead, straight in the database;
2. the servers are started together with the msdg driver against a loopback
   gateway that answers as MSDG does after ``--latency`` seconds (50 ms by
   default), and every request's arrival is noted on the gateway's clock;
3. once every server is up, the campaign is released (its delivery time set
   to now, in the database), so that all the servers start delivering at the
   same moment: started one after the other, the second server began seconds
   after the first, and a run of a few seconds measured mostly one server;
4. delivered recipients a second are the mean over the whole seconds between
   the first and the last second of arrivals (the ramp-up and tail left out).

Printed per run: recipients/s delivered, the ratio to the configured rate, the
busiest second at the gateway (it must not exceed the rate, whatever the number
of servers), for 2 servers the ratio to 1 server at the same rate (about 2 when
the rate allows and the machine has the CPUs, about 1 when the rate binds), and
the CPU time per 1,000 recipients of the servers, of PostgreSQL and of the
loopback gateway (which do not depend on the machine's load, as the wall-clock
rates do), and what the machine's cores could deliver at that cost. The
gateway is measured too, so that the figures are the servers' and not the
bench's: its CPU per 1,000 recipients, and how late it answered beyond
``--latency`` (on average); and how long the servers' threads and
PostgreSQL's processes waited for a CPU (Linux schedstat) against how long they
ran: on a shared machine, what the wall-clock figures owe to the other work.

    python bench/sms_delivery.py                      # rates 1000 and 5000, 1 and 2 servers
    python bench/sms_delivery.py --rates 1000 --seconds 5
    python bench/sms_delivery.py --rates 5000 --in-flight 2   # half the CPU a server needs: on a
                                                              # shared 2-core machine, the scaling shows
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import Postgres, egactl, egactl_env, free_port, must  # noqa: E402  (a sibling bench script)

KEY = "bench-msdg-key"
TEXT = "Chanjo ya surua ni tarehe {date}. Fika kituo cha afya kilicho karibu nawe."


class Gateway:
    """MSDG's success answer after ``latency`` seconds; notes (arrival time, recipients) of each request."""

    def __init__(self, latency: float):
        self.arrivals: list[tuple[float, int]] = []
        self.late: list[float] = []  # each answer's time beyond ``latency`` (the gateway's own queueing and work)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                arrived = time.time()
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                recipients = json.loads(form["data"][0])["recipients"].split(",")
                gateway.arrivals.append((arrived, len(recipients)))
                time.sleep(latency)
                body = json.dumps({"error": False, "statusCode": 48200, "statusMessage": "Success",
                                   "data": [{"recipient": r, "status": "queued"} for r in recipients]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                gateway.late.append(time.time() - arrived - latency)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/msdg/public/quick_sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> int:
        return sum(n for _, n in self.arrivals)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(env: dict, url: str, extra: dict) -> tuple[subprocess.Popen, str]:
    import socket

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "egactl", "serve", "--port", str(port), "--database-url", url],
                            env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("egactl serve exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise SystemExit("egactl serve did not start")


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=30)


def one_run(pg: Postgres, root: Path, rate: int, servers: int, recipients: int, opts) -> dict:
    label = f"r{rate}_s{servers}"
    env = egactl_env(root / label)
    url = pg.database(f"delivery_{label}")
    must(egactl(env, "serve", "migrate", "--database-url", url), "serve migrate")
    admin = json.loads(must(egactl(env, "serve", "tokens", "create", "--role", "admin", "--database-url", url,
                                   "-o", "json"), "tokens create").stdout)["token"]
    # Queue the campaign with delivery paused (the msdg driver without its settings waits).
    proc, api = serve(env, url, {"EGACTL_SMS_DRIVER": "msdg"})
    try:
        client = {**env, "EGACTL_API_URL": api, "EGACTL_TOKEN": admin}
        must(egactl(client, "institutions", "create", "RITA", "--name", "RITA", "--kind", "agency"), "institution")
        must(egactl(client, "sms", "senders", "request", "RITA", "-i", "RITA"), "sender request")
        must(egactl(client, "sms", "senders", "approve", "RITA"), "sender approve")
        path = root / f"{label}.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["phone", "date"])
            for i in range(recipients):
                w.writerow([f"07{54 + i // 1_000_000:02d}{i % 1_000_000:06d}", "2026-12-01"])
        must(egactl(client, "sms", "bulk", str(path), "-i", "RITA", "--template", TEXT, "--allow-quiet-hours",
                    timeout=1800), "sms bulk")
    finally:
        stop([proc])
    sql(url, "UPDATE sms_messages SET deliver_after = now() + interval '1 day' WHERE state = 'queued'")  # held

    gateway = Gateway(opts.latency)
    settings = {"EGACTL_SMS_DRIVER": "msdg", "EGACTL_SMS_MSDG_URL": gateway.url, "EGACTL_SMS_MSDG_API_KEY": KEY,
                "EGACTL_SMS_MSDG_ACCOUNT": "bench@rita.go.tz", "EGACTL_SMS_MSDG_SERVICE_ID": "106",
                "EGACTL_SMS_RATE": str(rate), "EGACTL_SMS_IN_FLIGHT": str(opts.in_flight),
                "EGACTL_SMS_MSDG_CHUNK": str(opts.chunk)}
    procs = serve_together(env, url, settings, servers)
    try:
        time.sleep(1)  # the servers settle (their first ticks find nothing due)
        cpu_start = sum(cpu_seconds(p.pid) for p in procs)
        pg_start, bench_start = postgres_cpu_seconds(pg), own_cpu_seconds() - time.thread_time()
        servers_waits, pg_waits = RunQueue(), RunQueue()
        servers_waits.sample(threads_of(p.pid for p in procs))
        pg_waits.sample(postgres_processes(pg))
        sql(url, "UPDATE sms_messages SET deliver_after = now() WHERE state = 'queued'")  # released
        deadline = time.monotonic() + opts.timeout
        postgres = postgres_processes(pg)
        while gateway.received() < recipients and time.monotonic() < deadline:
            time.sleep(0.1)
            servers_waits.sample(threads_of(p.pid for p in procs))
            pg_waits.sample(postgres)  # the connections are pooled: the same processes throughout
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_start
        pg_end = postgres_cpu_seconds(pg)
        pg_cpu = pg_end - pg_start if pg_end is not None and pg_start is not None else None
        gateway_cpu = own_cpu_seconds() - time.thread_time() - bench_start  # not this thread's sampling
    finally:
        stop(procs)
        gateway.close()
    load = os.getloadavg()[0]
    per_second = Counter()
    for at, n in gateway.arrivals:
        per_second[int(at)] += n
    seconds = sorted(per_second)
    steady = [per_second[s] for s in range(seconds[0] + 1, seconds[-1])] if len(seconds) > 2 else []
    rps = sum(steady) / len(steady) if steady else float("nan")
    return {"rate": rate, "servers": servers, "received": gateway.received(), "recipients": recipients,
            "rps": rps, "busiest": max(per_second.values()) if per_second else 0, "seconds": len(steady),
            "cpu_per_1000": 1000 * cpu / max(gateway.received(), 1),
            "pg_per_1000": 1000 * pg_cpu / max(gateway.received(), 1) if pg_cpu is not None else float("nan"),
            "gateway_per_1000": 1000 * gateway_cpu / max(gateway.received(), 1), "late": sum(gateway.late) / max(len(gateway.late), 1), "load": load,
            "servers_wait": servers_waits.waited() / max(servers_waits.ran(), 1e-9),
            "pg_wait": pg_waits.waited() / max(pg_waits.ran(), 1e-9)}


class RunQueue:
    """How long threads waited for a CPU, against how long they ran (Linux schedstat, sampled:
    a thread that ends between two samples loses its last tenth of a second)."""

    def __init__(self) -> None:
        self.first: dict[int, tuple[int, int]] = {}
        self.last: dict[int, tuple[int, int]] = {}
        self.started = False

    def sample(self, tids: list[int]) -> None:
        begun, self.started = self.started, True
        for tid in tids:
            try:
                ran, waited = (int(x) for x in Path(f"/proc/{tid}/schedstat").read_text().split()[:2])
            except (OSError, ValueError):
                continue
            self.first.setdefault(tid, (0, 0) if begun else (ran, waited))  # a thread born since: all of it
            self.last[tid] = (ran, waited)

    def ran(self) -> float:
        return sum(r - self.first[t][0] for t, (r, _) in self.last.items()) / 1e9

    def waited(self) -> float:
        return sum(w - self.first[t][1] for t, (_, w) in self.last.items()) / 1e9


def threads_of(pids) -> list[int]:
    tids = []
    for pid in pids:
        try:
            tids += [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            pass
    return tids


def postgres_processes(pg: Postgres) -> list[int]:
    if pg.base is None:
        return []
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    found = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def sql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(statement)


def serve_together(env: dict, url: str, extra: dict, n: int) -> list[subprocess.Popen]:
    """``n`` serve processes started at once; returns when every one answers."""
    import socket

    ports = [free_port() for _ in range(n)]
    procs = [subprocess.Popen([sys.executable, "-m", "egactl", "serve", "--port", str(port), "--database-url", url],
                              env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for port in ports]
    deadline = time.monotonic() + 120
    for proc, port in zip(procs, ports):
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop([p for p in procs if p.poll() is None])
                raise SystemExit("egactl serve did not start")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
    return procs


def postgres_cpu_seconds(pg: Postgres) -> float | None:
    """CPU time of the throwaway PostgreSQL: the postmaster, its live processes and those ended
    (Linux /proc); None for a server someone else runs."""
    if pg.base is None:
        return None
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # its own and its ended children's
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """This process's CPU time (the loopback gateway's threads, and the main thread's)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), as bench/sms_bulk.py reads it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="1000,5000", help="configured rates to run (recipients a second)")
    parser.add_argument("--servers", default="1,2", help="numbers of serve processes to run each rate with")
    parser.add_argument("--seconds", type=float, default=8, help="how long each run should deliver at its rate")
    parser.add_argument("--max-recipients", type=int, default=30000, help="cap on the campaign's size")
    parser.add_argument("--latency", type=float, default=0.05, help="the gateway's answer time (s)")
    parser.add_argument("--in-flight", type=int, default=4, help="EGACTL_SMS_IN_FLIGHT")
    parser.add_argument("--chunk", type=int, default=100, help="EGACTL_SMS_MSDG_CHUNK")
    parser.add_argument("--timeout", type=float, default=120, help="give up a run after this many seconds")
    parser.add_argument("--postgres-url", help="an existing server's URL instead of a throwaway one")
    opts = parser.parse_args()
    rates = [int(r) for r in opts.rates.split(",")]
    counts = [int(s) for s in opts.servers.split(",")]
    pg = Postgres(opts.postgres_url)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="egactl-bench-delivery-") as tmp:
            for rate in rates:
                for n in counts:
                    r = one_run(pg, Path(tmp), rate, n, min(int(rate * opts.seconds), opts.max_recipients), opts)
                    results.append(r)
                    print(f"  rate {rate}/s, {n} server(s): {r['received']:,}/{r['recipients']:,} received, "
                          f"{r['rps']:,.0f}/s over {r['seconds']} steady seconds, busiest second {r['busiest']:,} "
                          f"(load average {r['load']:.1f})", flush=True)
    finally:
        pg.stop()
    cores = os.cpu_count() or 1
    print()
    print(f"gateway latency {opts.latency * 1000:.0f} ms, {opts.chunk} recipients a request, "
          f"{opts.in_flight} requests in flight per server; CPU s per 1,000 recipients")
    print(f"{'rate/s':>7}  {'servers':>7}  {'delivered/s':>11}  {'vs rate':>7}  {'busiest s':>9}  {'vs 1 server':>11}"
          f"  {'servers':>7}  {'postgres':>8}  {'gateway':>7}  {'gw late':>7}  {'ceiling/s':>9}  {'CPU wait':>9}  {'load':>4}")
    one = {r["rate"]: r["rps"] for r in results if r["servers"] == 1}
    for r in results:
        versus = f"{r['rps'] / one[r['rate']]:10.2f}x" if r["servers"] != 1 and one.get(r["rate"]) else f"{'':>11}"
        total = r["cpu_per_1000"] + (r["pg_per_1000"] if r["pg_per_1000"] == r["pg_per_1000"] else 0) \
            + r["gateway_per_1000"]
        print(f"{r['rate']:>7,}  {r['servers']:>7}  {r['rps']:>11,.0f}  {r['rps'] / r['rate']:6.2f}x  "
              f"{r['busiest']:>9,}  {versus}  {r['cpu_per_1000']:>7.3f}  {r['pg_per_1000']:>8.3f}  "
              f"{r['gateway_per_1000']:>7.3f}  {r['late'] * 1000:>5.0f}ms  {cores * 1000 / max(total, 1e-9):>9,.0f}"
              f"  {r['servers_wait']:>4.1f}/{r['pg_wait']:<4.1f}  {r['load']:>4.1f}")
    print(f"\nservers, postgres, gateway: CPU time per 1,000 recipients delivered of the serve processes, of "
          f"PostgreSQL and of the loopback gateway (this process); gw late: the gateway's mean answer time beyond "
          f"its latency (its own queueing, and waiting for a CPU); ceiling/s: what the {cores} CPUs could deliver at that CPU cost if "
          f"nothing else ran; CPU wait: how long the servers' threads / PostgreSQL's processes waited for a CPU, "
          f"per second they ran (1.0: as long as they ran; a machine to themselves gives about 0); load: the load "
          f"average during the run. Wall-clock rates follow the CPU the "
          f"processes get (other work on the machine weighs on them); CPU per recipient does not.")


if __name__ == "__main__":
    main()
