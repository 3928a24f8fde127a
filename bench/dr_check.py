"""bench/dr_check.py: does `egactl dr check` cost one timeout, or the sum of them?

200 systems, each with a primary (HTTPS, certificate from a private test CA) and
a DR site (HTTP), all real servers on loopback in a separate process; every
tenth endpoint (40 of 400) accepts connections and never answers. The
per-probe timeout is the baseline: every figure is a wall time as a multiple
of it, measured in this run.

    python bench/dr_check.py [--systems 200] [--timeout 2] [--hanging-every 10] [--concurrency N]

Figures:
- healthy systems only: the work itself (handshakes, requests, verdicts), no hanging;
- probes only: the runner over the whole estate;
- whole command: the real `egactl dr check --all -o json` against the reference
  backend in-process — reading the inventory, probing, judging, rendering and
  recording 200 results as check history;
- hanging probed in turn: what a one-after-another check would cost at least.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import sys
import tempfile
import time

# The loopback stand-ins for the systems' sites are test equipment: tests/dr/fakesites.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "dr"))


def serve_sites(conn, specs: list[str], cert_pem: bytes, key_pem: bytes) -> None:
    """Child process: start one loopback site per spec ("https", "http", "hang"), send back their URLs."""
    import ssl

    from fakesites import FakeSites, health

    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        with open(cert, "wb") as f:
            f.write(cert_pem)
        with open(key, "wb") as f:
            f.write(key_pem)
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(cert, key)
    body = health("3.2.1", replicated_ago=dt.timedelta(minutes=3), backup_ago=dt.timedelta(hours=5))
    with FakeSites() as sites:
        hang_port = sites.hanging()
        urls = []
        for spec in specs:
            if spec == "hang-https":
                urls.append(f"https://127.0.0.1:{hang_port}/health")
            elif spec == "hang-http":
                urls.append(f"http://127.0.0.1:{hang_port}/health")
            else:
                urls.append(sites.http(body, tls=server_ctx if spec == "https" else None))
        conn.send(urls)
        conn.recv()  # until told to stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=2.0, help="per-probe timeout, seconds")
    parser.add_argument("--hanging-every", type=int, default=10, help="every Nth endpoint never answers")
    parser.add_argument("--concurrency", type=int, default=None, help="sites probed at once (default: the command's)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="egactl-bench-dr-")
    os.environ.update(EGACTL_CONFIG_DIR=f"{workdir}/config", EGACTL_DATA_DIR=f"{workdir}/data",
                      EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1")

    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    specs = []
    for i in range(args.systems * 2):
        tls = i % 2 == 0  # primary over HTTPS, DR site over HTTP
        hang = (i + 1) % args.hanging_every == 0
        specs.append(("hang-" if hang else "") + ("https" if tls else "http"))
    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    server = mp.Process(target=serve_sites, args=(child, specs, leaf.cert_chain_pems[0].bytes(),
                                                  leaf.private_key_pem.bytes()), daemon=True)
    server.start()
    urls = parent.recv()

    from sqlalchemy import select
    from typer.testing import CliRunner

    from egactl.cli import app as cli_app
    from egactl.context import Context
    from egactl.sandbox import SyncASGITransport
    from egactl.server.app import create_app
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core
    from egactl_dr.commands.check import runner
    from egactl_dr.server.service import serialize_system
    from egactl_dr.server.models import DrSystem

    app = create_app(f"sqlite:///{workdir}/backend.db", plugins=["dr"])
    be = app.state.backend
    ca_pem = ca.cert_pem.bytes().decode()
    with be.write_sessions() as session:
        now = be.now()
        seed_core(session, now)
        token, _ = issue_token(session, subject="bench@ega.go.tz", role="admin", now=now)
        institutions = ["RITA", "TRA", "NIDA", "MOH", "UDOM", "KINONDONI-MC", "ARUSHA-CC", "EGA"]
        for i in range(args.systems):
            session.add(DrSystem(
                institution=institutions[i % len(institutions)], name=f"sys{i:04d}", criticality="high",
                hosting="gdc-dodoma", dr_hosting="gdc-dar", primary_endpoint=urls[2 * i], dr_endpoint=urls[2 * i + 1],
                version_from="json:version", replicated_from="json:replication.last_replicated_at",
                backup_from="json:backup.last_success", rpo_minutes=15, rto_minutes=240, thresholds={},
                ca_bundle=ca_pem, last_drill_passed_at=now - dt.timedelta(days=30), version=1, created_at=now,
                updated_at=now))
        session.commit()
    with be.read_sessions() as session:
        rows = session.scalars(select(DrSystem).order_by(DrSystem.id)).all()
        systems = [serialize_system(s, now=be.now(), approved=["gdc-dodoma", "gdc-dar"], running={}) for s in rows]
    healthy = [s for i, s in enumerate(systems) if not specs[2 * i].startswith("hang") and not specs[2 * i + 1].startswith("hang")]

    deadline = max(50.0, args.timeout * 10)
    options = {"deadline": deadline, "timeout": args.timeout}
    if args.concurrency:
        options["concurrency"] = args.concurrency
    healthy_run = runner.run(healthy, runner.RunOptions(**options))
    probe_run = runner.run(systems, runner.RunOptions(**options))

    transport = SyncASGITransport(app)
    started = time.perf_counter()
    result = CliRunner().invoke(cli_app, ["dr", "check", "--all", "--timeout", str(args.timeout), "--deadline",
                                          str(deadline), "-o", "json",
                                          *(["--concurrency", str(args.concurrency)] if args.concurrency else [])],
                                obj=Context(transport=transport, token=token))
    wall = time.perf_counter() - started
    transport.close()
    parent.send("stop")
    server.join(timeout=10)
    if result.exit_code != 0:
        sys.exit(f"dr check failed ({result.exit_code}): {result.stderr or result.exception}")
    results = json.loads(result.stdout)

    hanging = sum(s.startswith("hang") for s in specs)
    timed_out = sum(c["reason"] == f"no answer within {args.timeout:g} s" for r in results for c in r["checks"])
    unfinished = sum("deadline" in c["reason"] for r in results for c in r["checks"])
    states: dict[str, int] = {}
    for r in results:
        states[r["status"]] = states.get(r["status"], 0) + 1
    healthy_ok = sum(v.status == "OK" for v in healthy_run.verdicts)

    t = args.timeout
    load = os.getloadavg()[0]
    print(f"dr check: {len(results)} systems, {len(specs)} endpoints ({hanging} hanging), per-probe timeout {t:g} s,"
          f" concurrency {args.concurrency or runner.DEFAULT_CONCURRENCY}  [{os.cpu_count()} CPUs, load {load:.1f}]")
    print(f"  healthy systems only ({len(healthy)}): {healthy_run.elapsed:6.2f} s = {healthy_run.elapsed / t:5.2f} x timeout"
          f"  ({healthy_ok} OK)")
    print(f"  probes only (runner):       {probe_run.elapsed:6.2f} s = {probe_run.elapsed / t:5.2f} x timeout")
    print(f"  whole command:              {wall:6.2f} s = {wall / t:5.2f} x timeout")
    print(f"  hanging probed in turn:     {hanging * t:6.2f} s = {hanging:5.2f} x timeout  (the sum this avoids)")
    print(f"  reachability timed out: {timed_out} (expected {hanging}); cut by the deadline: {unfinished}; "
          f"systems by status: {states}")


if __name__ == "__main__":
    main()
