"""Benchmark: `egactl mail import` of 10,000 staff against `egactl serve` (SQLite).

Prints, each against a baseline measured in the same run:

- throughput: rows/s of the import, against one-at-a-time creates over the
  same HTTP API (the baseline a script without the bulk machinery would get);
- client peak memory (max RSS of the egactl process) for 10,000 rows against
  1,000 rows — memory must not grow with the input;
- kill and resume: the import is SIGKILLed halfway (as a crash would), then
  run again with --resume; every row must be created exactly once (one mailbox
  and one "create" audit entry per employee number, all addresses distinct).

Run: python bench/mail_import.py [--rows 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

GIVEN = ["Juma", "Neema", "Baraka", "Zuhura", "Asha", "Hamisi", "Rehema", "Daudi", "Upendo", "Salma", "Emmanuel",
         "Mwanaidi", "Faraji", "Imani", "Joseph", "Halima", "Khamis", "Grace", "Said", "Mariam", "José", "Anna Maria"]
FAMILY = ["Mrisho", "Kweka", "Mwakyusa", "Ng'wanakilala", "Massawe", "Mushi", "Lyimo", "Shayo", "Komba", "Mbwana",
          "Nyirenda", "Temba", "Kimaro", "Mollel", "Swai", "Minja", "Chacha", "Magesa", "Mfinanga", "Urassa",
          "Mwinyi", "Kombo", "Lema", "Mallya", "Tarimo", "Müller-Lüdenscheidt", "Abdul Rahman"]
DEPARTMENTS = ["ICT", "Finance", "HR", "Legal", "Registration", "Procurement", "Audit", "Planning"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def egactl(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "egactl", *args], env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"egactl {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def write_staff(path: Path, n: int, start: int, seed: int) -> Path:
    rnd = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["employee_number", "given_name", "family_name", "department", "title"])
        for i in range(n):
            w.writerow([str(400000000 + start + i), rnd.choice(GIVEN), rnd.choice(FAMILY), rnd.choice(DEPARTMENTS),
                        "Officer"])
    return path


def run_rss(args: list[str], env: dict) -> tuple[float, int, float, str, str]:
    """(seconds, exit code, peak RSS MB, stdout, stderr), the child reaped with os.wait4."""
    out_f = tempfile.TemporaryFile(mode="w+")
    err_f = tempfile.TemporaryFile(mode="w+")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "egactl", *args], env=env, stdout=out_f, stderr=err_f)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    return elapsed, proc.returncode, usage.ru_maxrss / 1024, out_f.read(), err_f.read()


def count(db: Path, sql: str, *params) -> int:
    with sqlite3.connect(db, timeout=30) as c:
        return c.execute(sql, params).fetchone()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    opts = ap.parse_args()
    n = opts.rows
    work = Path(tempfile.mkdtemp(prefix="egactl-mail-bench-"))
    db = work / "served.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update({"EGACTL_CONFIG_DIR": str(work / "config"), "EGACTL_DATA_DIR": str(work / "data"),
                "EGACTL_CREDENTIAL_STORE": "file", "EGACTL_NO_PROGRESS": "1"})
    url_db = f"sqlite:///{db}"
    token = json.loads(egactl("serve", "tokens", "create", "--role", "admin", "--subject", "bench", "--database-url",
                              url_db, "-o", "json", env=env).stdout)["token"]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "egactl", "serve", "--port", str(port), "--database-url", url_db],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    env.update({"EGACTL_API_URL": f"http://127.0.0.1:{port}", "EGACTL_TOKEN": token})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("egactl serve did not start")
                time.sleep(0.2)
        for code, domain in (("RITA", "rita.go.tz"), ("TRA", "tra.go.tz"), ("NIDA", "nida.go.tz")):
            egactl("institutions", "create", code, "--name", f"{code} (bench)", "--kind", "agency", env=env)
            egactl("mail", "domains", "add", domain, "-i", code, env=env)

        # Baseline: one create per request, as a script without the bulk machinery would do.
        base_n = 200
        rnd = random.Random(1)
        with httpx.Client(base_url=env["EGACTL_API_URL"], headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as http:
            started = time.perf_counter()
            for i in range(base_n):
                r = http.post("/api/v1/mail/mailboxes", json={
                    "institution": "NIDA", "employee_number": str(900000000 + i), "given_name": rnd.choice(GIVEN),
                    "family_name": rnd.choice(FAMILY), "department": "ICT"})
                r.raise_for_status()
            baseline = base_n / (time.perf_counter() - started)

        big = write_staff(work / "staff.csv", n, 0, seed=10)
        small = write_staff(work / "staff-small.csv", n // 10, n, seed=11)
        secs, code, rss_big, out, err = run_rss(["mail", "import", str(big), "-i", "RITA", "-o", "json"], env)
        if code != 0:
            raise SystemExit(f"import failed ({code}): {err}")
        statuses = json.loads(out)["statuses"]
        rate = n / secs
        _, code, rss_small, _, err = run_rss(["mail", "import", str(small), "-i", "RITA", "-o", "json"], env)
        if code != 0:
            raise SystemExit(f"small import failed ({code}): {err}")

        # Kill halfway, then resume.
        resume_file = write_staff(work / "staff-resume.csv", n, 2 * n, seed=12)
        args = ["mail", "import", str(resume_file), "-i", "TRA", "-o", "json"]
        proc = subprocess.Popen([sys.executable, "-m", "egactl", *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        created_at_kill = 0
        while proc.poll() is None:
            created_at_kill = count(db, "SELECT count(*) FROM mail_mailboxes WHERE institution = 'TRA'")
            if created_at_kill >= n // 2:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        proc.wait()
        killed = proc.returncode == -signal.SIGKILL
        again = egactl(*args, env=env, check=False)
        refused = again.returncode == 2 and "--resume" in again.stderr
        resumed = egactl(*args, "--resume", env=env, check=False)
        tra = count(db, "SELECT count(*) FROM mail_mailboxes WHERE institution = 'TRA'")
        distinct_numbers = count(db, "SELECT count(DISTINCT employee_number) FROM mail_mailboxes WHERE institution = 'TRA'")
        distinct_addresses = count(db, "SELECT count(DISTINCT address) FROM mail_addresses WHERE institution = 'TRA'")
        creates = count(db, "SELECT count(*) FROM core_audit WHERE institution = 'TRA' AND action = 'create' "
                            "AND resource_type = 'mailbox'")
        resumed_summary = json.loads(resumed.stdout) if resumed.returncode == 0 else {}
        exactly_once = tra == distinct_numbers == distinct_addresses == creates == n

        print(f"mail import, {n} staff, egactl serve on SQLite ({os.cpu_count()} cores)")
        print(f"  import:     {secs:6.1f} s   {rate:7.0f} rows/s   statuses {statuses}")
        print(f"  baseline:   one create per request: {baseline:7.0f} rows/s")
        print(f"  ratio:      import / baseline = {rate / baseline:.1f}x   (target >= 500 rows/s: "
              f"{'met' if rate >= 500 else 'NOT met'})")
        print(f"  client peak memory: {rss_big:.0f} MB for {n} rows, {rss_small:.0f} MB for {n // 10} rows "
              f"(ratio {rss_big / rss_small:.2f})")
        print(f"  kill halfway: killed={killed} at {created_at_kill} mailboxes; rerun without --resume refused={refused}")
        print(f"  resume: exit {resumed.returncode}, resumed chunks {resumed_summary.get('resumed_chunks')}, "
              f"statuses {resumed_summary.get('statuses')}")
        print(f"  exactly once: mailboxes {tra}, distinct employee numbers {distinct_numbers}, distinct addresses "
              f"{distinct_addresses}, create audit entries {creates} -> {'OK' if exactly_once else 'FAILED'}")
        if not (exactly_once and killed and resumed.returncode == 0):
            raise SystemExit(1)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
