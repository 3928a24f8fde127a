"""Benchmark: SMS delivery throughput against the configured rate, with 1 and 2 servers.

For each configured rate (``--rates``, recipients a second) and each number of
``egactl serve`` processes (``--servers``), on one throwaway PostgreSQL 15
database:

1. a campaign of identical texts (so that the gateway requests carry
   ``msdg_chunk`` recipients each) is queued while delivery is paused (a server
   started without the gateway's settings queues but does not deliver);
2. the servers are started with the msdg driver against a loopback gateway
   that answers as MSDG does after ``--latency`` seconds (50 ms by default),
   and every request's arrival is noted on the gateway's clock;
3. delivered recipients a second are the mean over the whole seconds between
   the first and the last second of arrivals (the ramp-up and tail left out).

Printed per run: recipients/s delivered, the ratio to the configured rate, the
busiest second at the gateway (it must not exceed the rate, whatever the number
of servers), for 2 servers the ratio to 1 server at the same rate (about 2 when
the rate allows and the machine has the CPUs, about 1 when the rate binds), and
the servers' CPU time per 1,000 recipients (which does not depend on the
machine's load, as the wall-clock rates do).

    python bench/sms_delivery.py                      # rates 1000 and 5000, 1 and 2 servers
    python bench/sms_delivery.py --rates 1000 --seconds 5
"""

from __future__ import annotations

import argparse
import csv
import json
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

    gateway = Gateway(opts.latency)
    settings = {"EGACTL_SMS_DRIVER": "msdg", "EGACTL_SMS_MSDG_URL": gateway.url, "EGACTL_SMS_MSDG_API_KEY": KEY,
                "EGACTL_SMS_MSDG_ACCOUNT": "bench@rita.go.tz", "EGACTL_SMS_MSDG_SERVICE_ID": "106",
                "EGACTL_SMS_RATE": str(rate), "EGACTL_SMS_IN_FLIGHT": str(opts.in_flight),
                "EGACTL_SMS_MSDG_CHUNK": str(opts.chunk)}
    procs = [serve(env, url, settings)[0] for _ in range(servers)]
    try:
        cpu_start = sum(cpu_seconds(p.pid) for p in procs)
        deadline = time.monotonic() + opts.timeout
        while gateway.received() < recipients and time.monotonic() < deadline:
            time.sleep(0.2)
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_start
    finally:
        stop(procs)
        gateway.close()
    per_second = Counter()
    for at, n in gateway.arrivals:
        per_second[int(at)] += n
    seconds = sorted(per_second)
    steady = [per_second[s] for s in range(seconds[0] + 1, seconds[-1])] if len(seconds) > 2 else []
    rps = sum(steady) / len(steady) if steady else float("nan")
    return {"rate": rate, "servers": servers, "received": gateway.received(), "recipients": recipients,
            "rps": rps, "busiest": max(per_second.values()) if per_second else 0, "seconds": len(steady),
            "cpu_per_1000": 1000 * cpu / max(gateway.received(), 1)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), as bench/sms_bulk.py reads it."""
    import os

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
                          f"{r['rps']:,.0f}/s over {r['seconds']} steady seconds, busiest second {r['busiest']:,}, "
                          f"servers' CPU {r['cpu_per_1000']:.2f} s per 1,000 recipients",
                          flush=True)
    finally:
        pg.stop()
    print()
    print(f"gateway latency {opts.latency * 1000:.0f} ms, {opts.chunk} recipients a request, "
          f"{opts.in_flight} requests in flight per server")
    print(f"{'rate/s':>7}  {'servers':>7}  {'delivered/s':>11}  {'vs rate':>7}  {'busiest s':>9}  {'vs 1 server':>11}"
          f"  {'CPU s/1000':>10}  {'per core/s':>10}")
    one = {r["rate"]: r["rps"] for r in results if r["servers"] == 1}
    for r in results:
        versus = f"{r['rps'] / one[r['rate']]:10.2f}x" if r["servers"] != 1 and one.get(r["rate"]) else f"{'':>11}"
        print(f"{r['rate']:>7,}  {r['servers']:>7}  {r['rps']:>11,.0f}  {r['rps'] / r['rate']:6.2f}x  "
              f"{r['busiest']:>9,}  {versus}  {r['cpu_per_1000']:>10.2f}  {1000 / max(r['cpu_per_1000'], 1e-9):>10,.0f}")
    import os

    print(f"\nCPU s/1000: the serve processes' CPU time per 1,000 recipients delivered; per core/s: what one "
          f"server could deliver with a CPU core of its own (load average now "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs: wall-clock rates follow "
          f"the CPU the servers get, CPU per recipient does not)")


if __name__ == "__main__":
    main()
