"""How much egactl adds to the libraries it cannot avoid loading.

Prints, from one run, the median wall time of

- ``egactl --version`` and ``egactl --help``, as ratios to ``python -c "import typer"``;
- ``egactl institutions list -o json`` against ``egactl serve`` on loopback (a
  few rows; ``EGACTL_TOKEN`` + ``EGACTL_API_URL``, as a script would run it), as a
  ratio to ``python -c "import typer, httpx, rich.console"``;
- the same list against the sandbox (no profile: the default), with its server
  already started (it was started by the warm-up round, as by a user's first
  command), as a ratio to the list against ``egactl serve``; and the sandbox
  built in the command's own process (``EGACTL_SANDBOX_IDLE=0``, what every
  sandbox command did before the sandbox had a server), to the same.

Targets: --version ≤ 1.2×, --help ≤ 1.5×, the list ≤ 1.3×, the sandbox's list
≤ 1.5× the list against ``serve``. The in-process sandbox has no target: it is
the figure the server was built to beat.

Why it is measured this way:

- Ratios, not milliseconds: the machines are shared and noisy, so a baseline
  measured in the same run is the only fair yardstick.
- Every command runs once per round, round after round, so that a burst of
  load from something else on the machine hits the baseline and egactl alike.
- The console script is the one installed beside this interpreter (a pyenv or
  asdf shim in front of it would add a shell script's start-up to egactl but
  not to the baseline).
- Config and data live in a temporary XDG home: the user's own files are
  neither read nor touched, yet the ordinary default paths are exercised.
- Bytecode is cached, as after any normal install (pip compiles a wheel's
  modules; Python caches the rest on first import). The cache goes to a
  temporary ``PYTHONPYCACHEPREFIX`` so the source tree stays clean; the warm-up
  round fills it for the baselines and egactl alike. Without this, in an
  environment that sets ``PYTHONDONTWRITEBYTECODE`` (as some containers do),
  an editable egactl would recompile its own sources on every run while its
  already-compiled dependencies would not. ``--no-bytecode-cache`` measures
  that case instead.
- The server runs without background workers, so that only the client's cost
  is in question; it answers the same query every time and nothing is cached
  on the client.

Usage: ``python bench/startup.py [--runs 15] [--check]`` (``--check`` exits 1
when a target is missed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"version": 1.2, "help": 1.5, "list": 1.3, "sandbox": 1.5, "in-process": None}

INSTITUTIONS_CSV = """code,name,kind,region,contact_email
BENCH-A,Bench Agency A,agency,Dodoma,ict@a.example.go.tz
BENCH-B,Bench Agency B,agency,Arusha,ict@b.example.go.tz
BENCH-C,Bench Ministry C,ministry,Dodoma,ict@c.example.go.tz
BENCH-D,Bench District Council D,lga,Mwanza,ict@d.example.go.tz
BENCH-E,Bench Agency E,other,Mbeya,ict@e.example.go.tz
"""


def egactl_executable() -> list[str]:
    beside = Path(sys.executable).with_name("egactl")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("egactl")
    if found:
        return [found]
    sys.exit("bench: no egactl executable found; run `pip install -e .` first")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench: egactl serve exited early:\n{proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"bench: egactl serve did not listen on port {port} within {timeout:.0f}s")


def check(cmd: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}")
    return result


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    code = subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if code != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {code} during timing")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command (after one warm-up)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep the environment's PYTHONDONTWRITEBYTECODE instead of caching bytecode")
    args = parser.parse_args()

    egactl = egactl_executable()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="egactl-bench-") as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_") and k != "NO_COLOR"}
        env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
                   EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1", COLUMNS="100")
        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
        db = f"sqlite:///{home / 'server.db'}"
        token = json.loads(check([*egactl, "serve", "tokens", "create", "--role", "admin", "--subject", "bench",
                                  "--database-url", db, "-o", "json"], env).stdout)["token"]
        port = free_port()
        server = subprocess.Popen([*egactl, "serve", "--port", str(port), "--database-url", db, "--no-workers"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_port(port, server)
            client_env = dict(env, EGACTL_TOKEN=token, EGACTL_API_URL=f"http://127.0.0.1:{port}")
            csv_path = home / "institutions.csv"
            csv_path.write_text(INSTITUTIONS_CSV, "utf-8")
            check([*egactl, "institutions", "import", str(csv_path)], client_env)

            # The sandbox lists the same rows: its seed and the bench's (its server is started here).
            check([*egactl, "institutions", "import", str(csv_path)], env)
            seeded = home / "sandbox-institutions.csv"
            seeded.write_text(check([*egactl, "institutions", "list", "-o", "csv"], env).stdout, "utf-8")
            check([*egactl, "institutions", "import", str(seeded)], client_env)
            listed = json.loads(check([*egactl, "institutions", "list", "-o", "json"], client_env).stdout)
            in_sandbox = json.loads(check([*egactl, "institutions", "list", "-o", "json"], env).stdout)
            codes = sorted(i["code"] for i in listed)
            if len(listed) < 5 or codes != sorted(i["code"] for i in in_sandbox):
                sys.exit(f"bench: the server and the sandbox should list the same institutions, not {codes} and "
                         f"{sorted(i['code'] for i in in_sandbox)}")
            in_process_env = dict(env, EGACTL_SANDBOX_IDLE="0")
            commands = {
                "import typer": ([py, "-c", "import typer"], env),
                "import typer, httpx, rich.console": ([py, "-c", "import typer, httpx, rich.console"], env),
                "egactl --version": ([*egactl, "--version"], env),
                "egactl --help": ([*egactl, "--help"], env),
                "egactl institutions list -o json": ([*egactl, "institutions", "list", "-o", "json"], client_env),
                "sandbox: institutions list -o json": ([*egactl, "institutions", "list", "-o", "json"], env),
                "sandbox in-process: institutions list": ([*egactl, "institutions", "list", "-o", "json"],
                                                          in_process_env),
            }
            times: dict[str, list[float]] = {name: [] for name in commands}
            for round_ in range(args.runs + 1):
                for name, (cmd, cmd_env) in commands.items():
                    elapsed = timed(cmd, cmd_env)
                    if round_ > 0:  # round 0 warms the OS caches and the bytecode
                        times[name].append(elapsed)
        finally:
            subprocess.run([*egactl, "sandbox", "stop"], env=env, capture_output=True)
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()

    median = {name: statistics.median(ts) * 1000 for name, ts in times.items()}
    rows = [
        ("version", "egactl --version", "import typer"),
        ("help", "egactl --help", "import typer"),
        ("list", "egactl institutions list -o json", "import typer, httpx, rich.console"),
        ("sandbox", "sandbox: institutions list -o json", "egactl institutions list -o json"),
        ("in-process", "sandbox in-process: institutions list", "egactl institutions list -o json"),
    ]
    cache = "without a bytecode cache" if args.no_bytecode_cache else "bytecode cached"
    print(f"python {sys.version.split()[0]}, {args.runs} runs each after a warm-up, {cache}; median wall time\n")
    print(f"{'baseline':<44}{'ms':>8}")
    for name in ("import typer", "import typer, httpx, rich.console"):
        print(f"{'python -c ' + repr(name):<44}{median[name]:>8.1f}")
    print()
    print(f"{'command':<40}{'ms':>8}{'ratio':>8}{'target':>8}  verdict  (ratio to)")
    missed = 0
    for key, name, base in rows:
        ratio = median[name] / median[base]
        target = TARGETS[key]
        ok = target is None or ratio <= target
        missed += not ok
        verdict = "-" if target is None else "ok" if ok else "MISSED"
        shown = "" if target is None else f"{target:.1f}×"
        print(f"{name:<40}{median[name]:>8.1f}{ratio:>7.2f}×{shown:>8}  {verdict:<7}  ({base})")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
