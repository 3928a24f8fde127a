"""Delivery paused (the chosen driver lacks its settings): every send that queues messages
says so in its answer, so every command tells the user — through the sandbox's server,
which outlives commands, as through a real `egactl serve` — while the server's log says it
once, not at every tick.

The sandbox's server is reached by real ``python -m egactl`` processes (as
tests/core/test_sandbox_server.py runs it), with a data directory of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NEEDS = "the msdg driver needs EGACTL_SMS_MSDG_URL, EGACTL_SMS_MSDG_ACCOUNT, EGACTL_SMS_MSDG_SERVICE_ID, " \
        "EGACTL_SMS_MSDG_API_KEY"
PAUSED = f"warning: sms delivery paused: {NEEDS}; messages stay queued until this is fixed"


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(EGACTL_DATA_DIR=str(tmp_path / "d"), EGACTL_CONFIG_DIR=str(tmp_path / "c"),
               EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1", EGACTL_SANDBOX_IDLE="120",
               EGACTL_SMS_DRIVER="msdg")
    return env


def egactl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "egactl", *args], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def test_every_send_through_the_sandbox_server_says_delivery_is_paused(tmp_path):
    env = environment(tmp_path)
    first = egactl(env, "sms", "send", "--to", "+255712345678", "Habari", "-i", "RITA")
    second = egactl(env, "sms", "send", "--to", "+255712345679", "Habari za asubuhi", "-i", "RITA")
    path = tmp_path / "list.csv"
    path.write_text("phone\n0754000001\n0754000002\n", encoding="utf-8")
    bulk = egactl(env, "sms", "bulk", str(path), "-i", "RITA", "--template", "Kikao kesho saa nne",
                  "--allow-quiet-hours")
    assert len(list((tmp_path / "d" / "sandbox-server").glob("*.pid"))) == 1  # one server served them all
    for r in (first, second, bulk):
        told = [line for line in r.stderr.splitlines() if line.startswith("warning: sms delivery paused: ")]
        assert told == [PAUSED], r.stderr  # once: from the answer, not again from the server's log
    # The messages stayed queued, and the answer says why to a script as well.
    listed = json.loads(egactl(env, "sms", "list", "--all", "-o", "json").stdout)
    ours = {"+255712345678", "+255712345679", "+255754000001", "+255754000002"}
    assert {m["to"]: m["state"] for m in listed if m["to"] in ours} == dict.fromkeys(ours, "queued")
    answer = json.loads(egactl(env, "sms", "send", "--to", "+255712345670", "Habari", "-i", "RITA",
                               "-o", "json").stdout)
    assert answer["warnings"] == [PAUSED.removeprefix("warning: ")]
    # Nothing that only reads tells it (nothing was queued), and the server's log said it once.
    assert "paused" not in egactl(env, "sms", "list").stderr
    log = (tmp_path / "d" / "sandbox.log").read_text()
    assert log.count("sms delivery paused") == 1, log


def test_a_dry_run_queues_nothing_and_says_nothing_of_delivery(tmp_path):
    r = egactl(environment(tmp_path), "sms", "send", "--to", "+255712345678", "Habari", "-i", "RITA", "--dry-run")
    assert "paused" not in r.stderr
