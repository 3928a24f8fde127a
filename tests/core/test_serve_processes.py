"""`egactl serve --processes N`: each process listens on a socket of its own, so that
connections kept open (egactl's own client keeps them) are spread over the processes
instead of all staying with the one that accepted first (egactl.server.listening)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from egactl.server.listening import spreads
from tests.conftest import free_port, start_server

pytestmark = pytest.mark.skipif(not spreads(), reason="only Linux spreads connections over sockets sharing a port")

LISTEN, ESTABLISHED = "0A", "01"


def _tcp(port: int) -> list[tuple[str, int, int]]:
    """(state, remote port, inode) of every IPv4 socket whose local port is ``port``."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if int(local.rsplit(":", 1)[1], 16) == port:
            found.append((state, int(remote.rsplit(":", 1)[1], 16), inode))
    return found


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return kids


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    return dict(env, EGACTL_DATA_DIR=str(tmp_path / "data"), EGACTL_CONFIG_DIR=str(tmp_path / "config"))


def _serve_two(tmp_path: Path, port: int) -> list[str]:
    """`egactl serve` with two processes on ``port``, on a database of its own."""
    return [sys.executable, "-m", "egactl", "serve", "--port", str(port), "--processes", "2",
            "--database-url", f"sqlite:///{tmp_path / 's.db'}"]


@pytest.fixture
def two_processes(tmp_path):
    server = start_server(tmp_path, extra_env={"EGACTL_SERVE_PROCESSES": "2"})
    port = int(server.url.rsplit(":", 1)[1])
    try:
        yield server, port
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=30)


def test_each_process_listens_on_a_socket_of_its_own(two_processes):
    """With one socket shared by all, the process that wakes first takes every connection
    waiting: 50 clients connecting together once all landed on one process of two."""
    server, port = two_processes
    listening = _until(lambda: len([s for s in _tcp(port) if s[0] == LISTEN]) == 2 or None)
    assert listening, f"listening sockets on {port}: {[s for s in _tcp(port) if s[0] == LISTEN]}"


def test_kept_connections_are_spread_over_the_processes(two_processes):
    server, port = two_processes
    assert _until(lambda: len([s for s in _tcp(port) if s[0] == LISTEN]) == 2 or None)
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(32)]
    try:
        for c in connections:
            c.request("GET", "/api/v1/institutions", headers={"Authorization": f"Bearer {server.admin_token}"})
            answer = c.getresponse()
            answer.read()
            assert answer.status == 200
        client_ports = {c.sock.getsockname()[1] for c in connections}
        held = {s[2] for s in _tcp(port) if s[0] == ESTABLISHED and s[1] in client_ports}
        per_process = {pid: len(_socket_inodes(pid) & held) for pid in _children(server.proc.pid)}
        per_process = {pid: n for pid, n in per_process.items() if n}
        assert sum(per_process.values()) == 32
        # The kernel hashes each connection to one of the two sockets: all 32 on one is 1 in 2^31.
        assert len(per_process) == 2, per_process
    finally:
        for c in connections:
            c.close()


def test_a_port_in_use_is_refused_in_one_line(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        r = subprocess.run(_serve_two(tmp_path, port), env=_env(tmp_path), capture_output=True, text=True,
                           timeout=120)
    finally:
        taken.close()
    assert r.returncode == 5, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (f"error: cannot listen on 127.0.0.1:{port}: Address already in use; "
                                                 "another program may hold that port; choose another --port")
    assert "Traceback" not in r.stderr


def test_port_zero_is_one_port_for_every_process(tmp_path):
    """`--port 0`: the supervising process chooses the port, and both processes listen on it."""
    proc = subprocess.Popen(_serve_two(tmp_path, 0), env=_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "egactl backend on http://127.0.0.1:" in line, line
        port = int(line.split("http://127.0.0.1:", 1)[1].split()[0])
        assert port != 0
        assert _until(lambda: len([s for s in _tcp(port) if s[0] == LISTEN]) == 2 or None)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_free_port_is_free_again_once_the_server_stops(tmp_path):
    port = free_port()
    proc = subprocess.Popen(_serve_two(tmp_path, port), env=_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert _until(lambda: len([s for s in _tcp(port) if s[0] == LISTEN]) == 2 or None)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    again = socket.socket()
    try:
        again.bind(("127.0.0.1", port))  # nothing of the server holds it any more
    finally:
        again.close()
