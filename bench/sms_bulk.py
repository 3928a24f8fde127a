"""Benchmark: `egactl sms bulk` from CSV to `egactl serve` (SQLite).

For each size (default 100,000 and 1,000,000 recipients) it writes a CSV in a
temporary directory, runs the real `egactl sms bulk` executable against a real
`egactl serve` on loopback, and reports:

- recipients accepted per second (rows / wall time of the client process,
  validation pass included), against the 5,000/s target;
- the client process's peak resident memory (``ru_maxrss`` of that one child,
  from ``os.wait4``), and the ratio of the largest run's peak to the smallest's
  (target: at most 1.2).

The batch is scheduled for tomorrow (``--at``), so what is measured is
acceptance: the delivery worker (running, as in production) has nothing due
while the campaign is being submitted. ``--deliver-now`` measures acceptance
with delivery to the outbox running at the same time instead.

    python bench/sms_bulk.py                   # 100k and 1M
    python bench/sms_bulk.py --sizes 20000     # a quick look
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = "Habari {name}, deni lako la maji ni TZS {amount}. Lipa kabla ya tarehe 30 kuepuka kukatiwa huduma."
TARGET_RPS = 5000
TARGET_MEMORY_RATIO = 1.2


def egactl(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "egactl", *args], env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"egactl {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"egactl serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("egactl serve did not start")


def write_csv(path: Path, n: int, prefix: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "name", "amount"])
        for i in range(n):
            w.writerow([f"{prefix}{i:06d}", f"Mwananchi {i}", 1000 + i % 90000])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(args: list[str], env: dict) -> tuple[float, int, int, str, str, float]:
    """(seconds, peak RSS in KiB, exit code, stdout, stderr, CPU seconds) of one egactl process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "egactl", *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return elapsed, usage.ru_maxrss, proc.returncode, out.read(), err.read(), usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated recipient counts")
    parser.add_argument("--deliver-now", action="store_true", help="deliver while submitting (no --at)")
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    prefixes = ["0754", "0655", "0713", "0622", "0688", "0767"]

    with tempfile.TemporaryDirectory(prefix="egactl-bench-") as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
        env.update({"EGACTL_CONFIG_DIR": str(root / "config"), "EGACTL_DATA_DIR": str(root / "data"),
                    "EGACTL_CREDENTIAL_STORE": "file", "EGACTL_NO_PROGRESS": "1"})
        database = f"sqlite:///{root / 'served.db'}"
        admin = json.loads(egactl("serve", "tokens", "create", "--role", "admin", "--database-url", database, "-o", "json",
                                  env=env).stdout)["token"]
        port = free_port()
        env["EGACTL_API_URL"] = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "egactl", "serve", "--port", str(port), "--database-url",
                                   database], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(port, server)
            egactl("institutions", "create", "RITA", "--name", "Registration Insolvency and Trusteeship Agency",
                   "--kind", "agency", env={**env, "EGACTL_TOKEN": admin})
            operator = json.loads(egactl("serve", "tokens", "create", "--role", "operator", "-i", "RITA", "--subject",
                                         "bench@rita.go.tz", "--database-url", database, "-o", "json",
                                         env=env).stdout)["token"]
            egactl("sms", "senders", "request", "RITA", "-i", "RITA", env={**env, "EGACTL_TOKEN": operator})
            egactl("sms", "senders", "approve", "RITA", env={**env, "EGACTL_TOKEN": admin})
            at = (dt.datetime.now(dt.timezone(dt.timedelta(hours=3))) + dt.timedelta(days=1)).strftime("%Y-%m-%d 10:00")
            rows = []
            for n, prefix in zip(sizes, prefixes):
                path = root / f"recipients-{n}.csv"
                write_csv(path, n, prefix)
                args = ["sms", "bulk", str(path), "-i", "RITA", "--template", TEMPLATE, "-o", "json"]
                if not opts.deliver_now:
                    args += ["--at", at]
                server_cpu = cpu_seconds(server.pid)
                seconds, peak_kib, code, out, err, client_cpu = run_client(args, {**env, "EGACTL_TOKEN": operator})
                server_cpu = cpu_seconds(server.pid) - server_cpu
                if code != 0:
                    raise SystemExit(f"bulk run of {n} failed ({code}): {err.strip()[-2000:]}")
                summary = json.loads(out)
                queued = summary["statuses"].get("queued", 0)
                if queued != n:
                    raise SystemExit(f"expected {n} queued, got {summary['statuses']}")
                rows.append((n, seconds, n / seconds, peak_kib / 1024, client_cpu, server_cpu))
                print(f"{n:>9,} recipients  {seconds:7.1f} s  {n / seconds:8,.0f} recipients/s  "
                      f"client peak RSS {peak_kib / 1024:6.1f} MiB  CPU: client {client_cpu:.1f} s, "
                      f"server {server_cpu:.1f} s", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)

    print()
    print(f"{'recipients':>10}  {'seconds':>8}  {'recipients/s':>12}  {'vs 5,000/s':>10}  {'peak MiB':>8}  "
          f"{'vs smallest':>11}  {'client µs/rcpt':>14}  {'server µs/rcpt':>14}")
    base_mem = rows[0][3]
    for n, seconds, rps, mib, ccpu, scpu in rows:
        print(f"{n:>10,}  {seconds:8.1f}  {rps:12,.0f}  {rps / TARGET_RPS:9.2f}×  {mib:8.1f}  {mib / base_mem:10.2f}×  "
              f"{ccpu / n * 1e6:14.0f}  {scpu / n * 1e6:14.0f}")
    worst = min(r[2] for r in rows)
    ratio = rows[-1][3] / base_mem
    print()
    print(f"throughput: slowest run {worst:,.0f} recipients/s (target ≥ {TARGET_RPS:,}): "
          f"{'met' if worst >= TARGET_RPS else 'NOT met'}")
    if len(rows) > 1:
        print(f"memory: {rows[-1][0]:,} vs {rows[0][0]:,} recipients = {ratio:.2f}× (target ≤ {TARGET_MEMORY_RATIO}): "
              f"{'met' if ratio <= TARGET_MEMORY_RATIO else 'NOT met'}")
    n, _, _, _, ccpu, scpu = rows[-1]
    print(f"capacity from CPU time ({n:,} recipients): {n / max(ccpu, scpu):,.0f} recipients/s with client and server "
          f"on a core each, {n / (ccpu + scpu):,.0f} recipients/s sharing one core")
    print(f"(load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"CPU µs per recipient do not depend on the load, wall-clock rates do)")


if __name__ == "__main__":
    main()
