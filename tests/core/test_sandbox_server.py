"""The sandbox's server, through real commands: started on first use, reused, gone when idle
or asked, replaced when stale, one for concurrent first uses, and never in a test's way.

Every command here is the real ``python -m egactl`` in a subprocess (or CliRunner in this
process), with its own data directory; what is asserted is what the user sees, what the
sandbox stored, and which processes run. Times are never asserted: waits are deadlines
for a loaded machine, not measurements.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import stop_sandbox_servers

INSTITUTIONS = {"EGA", "RITA", "TRA", "NIDA", "MOH", "UDOM", "KINONDONI-MC", "ARUSHA-CC"}


def environment(tmp_path: Path, idle: str = "120", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(EGACTL_DATA_DIR=str(tmp_path / "d"), EGACTL_CONFIG_DIR=str(tmp_path / "c"),
               EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1", EGACTL_SANDBOX_IDLE=idle, **extra)
    return env


def egactl(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egactl", *args], env=env, capture_output=True, text=True,
                          input=input, timeout=300)


def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "d" / "sandbox-server"


def pids(tmp_path: Path) -> list[int]:
    return sorted(int(p.read_text()) for p in run_dir(tmp_path).glob("*.pid")) if run_dir(tmp_path).is_dir() else []


def running(pid: int) -> bool:
    from egactl.sandbox_client import alive

    return alive(pid)


def is_sandbox_server(pid: int) -> bool:
    return b"egactl.sandbox_server" in Path(f"/proc/{pid}/cmdline").read_bytes()


def wait_until(condition, deadline: float = 120.0) -> bool:
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def listed(r: subprocess.CompletedProcess) -> set[str]:
    """The institution codes a ``list -o csv`` printed; it must have been served by the server
    (a command that could not reach one says so and builds the backend itself)."""
    assert r.returncode == 0, r.stderr
    assert "did not start" not in r.stderr, r.stderr
    return {line.split(",", 1)[0] for line in r.stdout.splitlines()[1:]}


def started(tmp_path: Path) -> int:
    return (tmp_path / "d" / "sandbox.log").read_text().count(" listening on ")


def test_first_use_starts_a_server_later_commands_reuse_it_and_stop_ends_it(tmp_path):
    env = environment(tmp_path)
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    (pid,) = pids(tmp_path)
    assert running(pid) and is_sandbox_server(pid)

    r = egactl(env, "institutions", "create", "UDSM", "--name", "University of Dar es Salaam", "--kind", "other")
    assert r.returncode == 0, r.stderr
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS | {"UDSM"}
    assert pids(tmp_path) == [pid] and started(tmp_path) == 1  # the same server served all three

    r = egactl(env, "sandbox", "status", "-o", "json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert (row["pid"], row["state"], row["current"]) == (pid, "running", "yes")

    r = egactl(env, "sandbox", "stop")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == f"stopped 1 sandbox server (pid {pid})"
    assert not running(pid)  # stop returns once it has exited
    assert pids(tmp_path) == [] and not list(run_dir(tmp_path).glob("*.sock"))
    assert egactl(env, "sandbox", "stop").stderr.strip() == "no sandbox server was running"

    # Nothing was lost: the state is the database, and the next command starts a server again.
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS | {"UDSM"}
    (again,) = pids(tmp_path)
    assert again != pid and running(again)


def test_a_server_exits_by_itself_when_idle(tmp_path):
    env = environment(tmp_path, idle="1")
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    (pid,) = pids(tmp_path)
    assert wait_until(lambda: not running(pid)), "the idle server did not exit"
    assert pids(tmp_path) == [] and not list(run_dir(tmp_path).glob("*.sock"))
    assert "idle for 1 s; exiting" in (tmp_path / "d" / "sandbox.log").read_text()
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS


def test_a_killed_servers_socket_and_pid_file_are_replaced(tmp_path):
    env = environment(tmp_path)
    egactl(env, "institutions", "list")
    (pid,) = pids(tmp_path)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not running(pid))
    (sock,) = run_dir(tmp_path).glob("*.sock")  # left behind: nothing listens on it any more
    assert pids(tmp_path) == [pid]
    r = egactl(env, "sandbox", "status", "-o", "json")
    assert [s["state"] for s in json.loads(r.stdout)] == ["stale (nothing listening)"]

    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    (new,) = pids(tmp_path)
    assert new != pid and running(new) and sock.exists()


def test_a_pid_file_naming_another_process_is_not_trusted(tmp_path):
    """A stale pid file whose number now belongs to some other process: that process is
    neither stopped nor taken for the server."""
    env = environment(tmp_path)
    egactl(env, "institutions", "list")
    (pid,) = pids(tmp_path)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not running(pid))
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (pid_file,) = run_dir(tmp_path).glob("*.pid")
        pid_file.write_text(str(bystander.pid))
        assert egactl(env, "sandbox", "stop").stderr.strip() == "no sandbox server was running"
        assert bystander.poll() is None and not pid_file.exists()
        assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
        assert bystander.pid not in pids(tmp_path)
    finally:
        bystander.kill()
        bystander.wait()


CHILD = """
import os, sys, time
import egactl.cli
open(sys.argv[1] + "." + str(os.getpid()), "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
egactl.cli.main(sys.argv[2:])
"""


def test_concurrent_first_uses_start_one_server(tmp_path):
    env = environment(tmp_path)
    go, n = tmp_path / "go", 8
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(go), "institutions", "list", "-o", "csv"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    wait_until(lambda: len(list(tmp_path.glob("go.*"))) == n or any(p.poll() is not None for p in procs), 600)
    go.touch()
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert listed(subprocess.CompletedProcess([], code, out, err)) == INSTITUTIONS
    assert started(tmp_path) == 1 and len(pids(tmp_path)) == 1
    # One identity too: the token issued on first use is the one every command stored.
    r = egactl(env, "auth", "tokens", "list", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert [t["subject"] for t in json.loads(r.stdout)] == ["sandbox-admin"]


def test_a_reset_sandbox_is_a_new_sandbox(tmp_path):
    """Removing the database resets the sandbox, as it did when every command built the
    backend: the running server notices and leaves, the next command gets a fresh one."""
    env = environment(tmp_path)
    assert egactl(env, "institutions", "create", "UDSM", "--name", "University of Dar es Salaam",
                  "--kind", "other").returncode == 0
    (pid,) = pids(tmp_path)
    for f in (tmp_path / "d").glob("sandbox.db*"):
        f.unlink()
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    assert wait_until(lambda: not running(pid))
    (new,) = pids(tmp_path)
    assert new != pid


def test_each_data_directory_and_each_backend_setting_has_its_own_server(tmp_path):
    env = environment(tmp_path)
    assert egactl(env, "institutions", "create", "UDSM", "--name", "University of Dar es Salaam",
                  "--kind", "other").returncode == 0
    elsewhere = dict(env, EGACTL_DATA_DIR=str(tmp_path / "e"))
    assert listed(egactl(elsewhere, "institutions", "list", "-o", "csv")) == INSTITUTIONS  # its own sandbox

    # A backend setting makes another server on the same sandbox (one that behaves as set) ...
    quarantine = dict(env, EGACTL_USSD_QUARANTINE_DAYS="30")
    assert listed(egactl(quarantine, "institutions", "list", "-o", "csv")) == INSTITUTIONS | {"UDSM"}
    assert len(pids(tmp_path)) == 2
    # ... a client setting does not.
    assert egactl(dict(env, EGACTL_OUTPUT="json", EGACTL_RETRIES="2"), "institutions", "list").returncode == 0
    assert len(pids(tmp_path)) == 2
    rows = json.loads(egactl(quarantine, "sandbox", "status", "-o", "json").stdout)
    assert sorted(r["current"] for r in rows) == ["no", "yes"]
    stopped = json.loads("[" + ",".join(egactl(env, "sandbox", "stop").stderr.split("(pid ")[1].rstrip(")\n")
                                        .split(", ")) + "]")
    assert sorted(stopped) == pids(tmp_path) or pids(tmp_path) == []
    assert pids(tmp_path) == []
    egactl(elsewhere, "sandbox", "stop")


def test_the_backends_warnings_reach_the_command_that_caused_them(tmp_path):
    """A worker's warning while the server handles a request goes back with the answer, to
    the command's stderr; the server's log has it too."""
    env = environment(tmp_path, EGACTL_SMS_DRIVER="msdg")
    r = egactl(env, "sms", "send", "--to", "+255712345678", "Habari", "-i", "RITA")
    assert r.returncode == 0, r.stderr
    (warning,) = [line for line in r.stderr.splitlines() if line.startswith("warning:")][-1:]
    assert warning.startswith("warning: sms delivery paused: ")
    assert warning.removeprefix("warning: ") in (tmp_path / "d" / "sandbox.log").read_text()
    assert len(pids(tmp_path)) == 1


def test_a_warning_the_backend_logs_reaches_the_command(tmp_path):
    """Not only what a route answers: a warning the backend logs (a setting read under its
    former name, named as the backend starts) reaches the command on stderr."""
    env = environment(tmp_path, EGACTL_DR_CHECK_RETENTION_DAYS="30")
    r = egactl(env, "privacy", "retention", "show")
    assert r.returncode == 0, r.stderr
    assert ("warning: EGACTL_DR_CHECK_RETENTION_DAYS is the former name of EGACTL_PRIVACY_DR_CHECKS_DAYS; "
            "it is still honoured, but set the new name") in r.stderr.splitlines()
    r = egactl(env, "privacy", "retention", "show", "-o", "json")
    assert [c["days"] for c in json.loads(r.stdout) if c["service"] == "dr"] == [30]


def test_workers_have_run_before_the_next_command(tmp_path):
    env = environment(tmp_path)
    r = egactl(env, "sms", "send", "--to", "+255712345678", "Habari", "-i", "RITA", "-o", "json")
    assert r.returncode == 0, r.stderr
    batch = json.loads(r.stdout)["id"]
    r = egactl(env, "sms", "list", "--batch", str(batch), "-o", "json")
    assert [m["state"] for m in json.loads(r.stdout)] == ["delivered"]


def test_socket_and_directory_are_the_owners_only_and_no_tcp_port_is_open(tmp_path):
    os.umask(0o000)
    try:
        env = environment(tmp_path)
        egactl(env, "institutions", "list")
    finally:
        os.umask(0o022)
    (pid,) = pids(tmp_path)
    directory = run_dir(tmp_path)
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    for f in directory.iterdir():
        assert oct(f.stat().st_mode & 0o777) == "0o600", f
    (sock,) = directory.glob("*.sock")
    assert sock.is_socket()
    inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
              if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    listening_tcp = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                listening_tcp.append(fields[1])
    assert inodes and listening_tcp == []


def test_commands_in_a_tests_process_stay_isolated(tmp_path, cli):
    """The `cli` fixture's transport is the test's own backend (its clock, its data): no
    server is started even where one may be; the default test environment builds the
    sandbox in-process; a server started by a test is stopped by the test's teardown."""
    os.environ["EGACTL_SANDBOX_IDLE"] = "120"  # isolated_env restores it after the test
    try:
        r = cli("institutions", "list", "-o", "json")
        assert r.exit_code == 0
        assert not (tmp_path / "data" / "sandbox-server").exists()
    finally:
        os.environ["EGACTL_SANDBOX_IDLE"] = "0"

    from typer.testing import CliRunner

    from egactl.cli import app

    r = CliRunner().invoke(app, ["institutions", "list", "-o", "json"])
    assert r.exit_code == 0, r.stderr
    assert not (tmp_path / "data" / "sandbox-server").exists()  # EGACTL_SANDBOX_IDLE=0: in-process

    r = CliRunner().invoke(app, ["institutions", "list", "-o", "json"], env={"EGACTL_SANDBOX_IDLE": "120"})
    assert r.exit_code == 0, r.stderr
    assert {i["code"] for i in json.loads(r.stdout)} == INSTITUTIONS
    (pid_file,) = (tmp_path / "data" / "sandbox-server").glob("*.pid")
    pid = int(pid_file.read_text())
    assert running(pid) and is_sandbox_server(pid)
    assert stop_sandbox_servers(tmp_path) == [pid]  # what the autouse fixture does after every test
    assert not running(pid)


@pytest.mark.parametrize("value", ["0", "-5"])
def test_no_server_when_the_idle_time_is_zero(tmp_path, value):
    env = environment(tmp_path, idle=value)
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    assert not run_dir(tmp_path).exists()


def test_a_data_directory_too_deep_for_a_socket_address_still_gets_a_server(tmp_path):
    """sun_path holds 107 bytes: deeper, the server binds its socket relative to its
    directory and commands reach it through /proc/self/fd/N/ of that directory."""
    deep = tmp_path / ("a-rather-long-directory-name-" * 3) / "share" / "egactl"
    env = dict(environment(tmp_path), EGACTL_DATA_DIR=str(deep))
    sock_dir = deep / "sandbox-server"
    assert len(str(sock_dir / "0123456789ab.sock")) > 107
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    (sock,) = sock_dir.glob("*.sock")
    pid = int(sock.with_suffix(".pid").read_text())
    assert running(pid) and is_sandbox_server(pid) and sock.is_socket()
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    assert [int(p.read_text()) for p in sock_dir.glob("*.pid")] == [pid]
    assert egactl(env, "sandbox", "stop").stderr.strip() == f"stopped 1 sandbox server (pid {pid})"


def test_a_server_whose_code_changed_on_disk_is_replaced(tmp_path):
    """An upgrade (or an edit of an editable install) under a running server: the next
    command gets a server running the new code, not the old one."""
    import egactl.sandbox_server as module

    env = environment(tmp_path)
    assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    (pid,) = pids(tmp_path)
    source = Path(module.__file__)
    before = source.stat()
    # a second past now, so past every source file the server loaded (a plugin's module edited
    # after this one would hide a smaller step)
    os.utime(source, ns=(before.st_atime_ns, max(before.st_mtime_ns, time.time_ns()) + 10**9))
    try:
        assert listed(egactl(env, "institutions", "list", "-o", "csv")) == INSTITUTIONS
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert wait_until(lambda: not running(pid))
    (new,) = pids(tmp_path)
    assert new != pid and "egactl's code changed on disk" in (tmp_path / "d" / "sandbox.log").read_text()


def test_stop_for_scripts(tmp_path):
    env = environment(tmp_path)
    egactl(env, "institutions", "list")
    (pid,) = pids(tmp_path)
    r = egactl(env, "sandbox", "stop", "-o", "json")
    assert r.returncode == 0 and r.stderr == ""
    assert json.loads(r.stdout) == {"stopped": [pid]} and not running(pid)
    assert json.loads(egactl(env, "sandbox", "stop", "-o", "json").stdout) == {"stopped": []}


def test_a_command_served_by_the_server_imports_no_backend(tmp_path):
    """What makes it quick: with the server running, a sandbox command imports what a
    command against `egactl serve` does, and none of the backend's libraries."""
    env = environment(tmp_path)
    egactl(env, "institutions", "list")  # starts the server
    report = tmp_path / "modules.json"
    child = ("import json, sys, egactl.cli\n"
             "try:\n    egactl.cli.main(['institutions', 'list', '-o', 'json'])\nexcept SystemExit:\n    pass\n"
             f"json.dump(sorted(sys.modules), open({str(report)!r}, 'w'))\n")
    r = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert {i["code"] for i in json.loads(r.stdout)} == INSTITUTIONS
    loaded = {m.split(".")[0] for m in json.loads(report.read_text())}
    assert not loaded & {"fastapi", "starlette", "sqlalchemy", "pydantic", "uvicorn", "asyncio"}, loaded
    assert "egactl.server" not in json.loads(report.read_text())
