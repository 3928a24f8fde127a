"""Reaching the sandbox's server from a command: find it, start it on first use, stop it.

The server (``egactl.sandbox_server``) keeps the backend built between
commands. A command finds it by its socket, ``<data dir>/sandbox-server/<key>.sock``:
the key is a digest of what decides how the backend behaves, so that a command
never talks to a server that would behave otherwise than an in-process sandbox
started by that command: the Python and the egactl it runs, ``PYTHONPATH``, the
installed plugins, and every ``EGACTL_*`` variable but the client's own
(``EGACTL_SQLITE_BUSY_TIMEOUT``, ``EGACTL_SMS_RATE_PER_SECOND``... are the
backend's). Another environment gets its own server on the same database, as two
in-process sandboxes shared it.

First use: the command takes ``<key>.lock`` (``flock``), looks again (another
command may have started the server while it waited), removes a stale socket and
pid file (nothing listening: a server that was killed), starts the server in its
own session and waits until the socket answers. Concurrent first uses therefore
start one server. When the server cannot start (a busy database...), or there is
no Unix socket (Windows), or the path is too long for one (outside Linux, where
``/proc/self/fd`` shortens it), or ``EGACTL_SANDBOX_IDLE=0``, the command builds the backend in its own process, as
egactl always did (``egactl.sandbox``); it then says what went wrong itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx

from egactl import credentials, paths

RUN_DIR = "sandbox-server"
DEFAULT_IDLE = 600.0
WARNING_HEADER = "x-egactl-sandbox-warning"
START_TIMEOUT = 300.0  # a loaded machine can take long to import the backend; a server that dies is seen at once
MAX_SOCKET_PATH = 107 if sys.platform.startswith("linux") else 103  # sun_path: 108 bytes on Linux, 104 on macOS, with its NUL

# The client's own settings: they change nothing in the backend, so they do not make another server.
CLIENT_ONLY = frozenset({
    "EGACTL_TOKEN", "EGACTL_PROFILE", "EGACTL_CONFIG_DIR", "EGACTL_DATA_DIR", "EGACTL_CREDENTIAL_STORE",
    "EGACTL_NO_PROGRESS", "EGACTL_OUTPUT", "EGACTL_API_URL", "EGACTL_CA_BUNDLE", "EGACTL_CONNECT_TIMEOUT",
    "EGACTL_READ_TIMEOUT", "EGACTL_RETRIES", "EGACTL_INSTITUTION", "_EGACTL_COMPLETE",
})


def idle_seconds(env: dict[str, str] | None = None) -> float:
    """``EGACTL_SANDBOX_IDLE``: seconds idle before the server exits; 0 means no server at all."""
    raw = (os.environ if env is None else env).get("EGACTL_SANDBOX_IDLE", "").strip()
    if not raw:
        return DEFAULT_IDLE
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_IDLE
    return max(0.0, value)


class Stale(Exception):
    """The server answered that it is leaving (its database was reset, its code changed)."""


def run_dir() -> Path:
    return paths.data_dir().absolute() / RUN_DIR


def key(env: dict[str, str] | None = None) -> str:
    """The digest naming the server for this environment."""
    import egactl
    from egactl.discovery import found

    env = dict(os.environ if env is None else env)
    what = {
        "python": sys.executable,
        "egactl": [egactl.__file__, egactl.__version__],
        "pythonpath": env.get("PYTHONPATH", ""),
        "plugins": {name: f.entry_point.value for name, f in found().items()},
        "env": sorted((k, v) for k, v in env.items() if k.startswith("EGACTL_") and k not in CLIENT_ONLY),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]


def socket_path() -> Path:
    return run_dir() / f"{key()}.sock"


def _short(path: Path) -> bool:
    return len(os.fsencode(str(path))) <= MAX_SOCKET_PATH


def usable(path: Path) -> bool:
    """Whether a server may be used here at all (``path``: its socket)."""
    if idle_seconds() == 0 or not hasattr(socket, "AF_UNIX"):
        return False
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return _short(path) or os.path.isdir("/proc/self/fd")


class Address:
    """A socket's path as ``connect`` takes it: the path itself, or, when it is too long for
    a socket address (a deep data directory), the same file reached through
    ``/proc/self/fd/N/`` of its directory, kept open meanwhile (Linux)."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        if _short(path):
            self.value = str(path)
        else:
            paths.private_dir(path.parent)
            self._fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            self.value = f"/proc/self/fd/{self._fd}/{path.name}"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ServerTransport(httpx.HTTPTransport):
    """HTTP over the server's socket. A connection refused (the server left while idle,
    between two requests of a long command) starts a new one and sends again: nothing
    reached the old one. The backend's warnings on an answer go to ``warn``."""

    def __init__(self, path: Path, warn: Callable[[str], None]):
        self.address = Address(path)
        super().__init__(uds=self.address.value, verify=False)  # never TLS: no CA bundle to load
        self.path = path
        self.warn = warn

    def close(self) -> None:
        super().close()
        self.address.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except httpx.ConnectError:
            if not start(self.path):
                raise
            response = super().handle_request(request)
        for warning in response.headers.get_list(WARNING_HEADER):
            self.warn(warning)
        return response


def open_server(profile: str, warn: Callable[[str], None]) -> tuple[httpx.BaseTransport, str] | None:
    """(transport, token) of the running server, started if need be; None: run in-process."""
    path = socket_path()
    if not usable(path):
        return None
    stored = credentials.get(profile)
    transport = ServerTransport(path, warn)
    answer = None
    for _ in range(3):
        try:
            answer = _open(transport, stored)
            break
        except (httpx.TransportError, Stale):
            transport.close()
            transport = ServerTransport(path, warn)
            if not start(path):
                break
    if answer is None:
        transport.close()
        from egactl.sandbox import log_path

        warn(f"the sandbox's server did not start (its reason is in {log_path()}); "
             f"this command builds the backend itself")
        return None
    for line in answer.get("warnings", []):
        warn(line)
    if answer["issued"]:
        where, is_file = credentials.store(profile, answer["token"])
        if is_file:
            warn(f"no system keyring found; the sandbox token is kept in {where} (readable only by you)")
    return transport, answer["token"]


def _open(transport: httpx.BaseTransport, stored) -> dict:
    payload = {"token": stored.value if stored else None,
               "keep": bool(stored and stored.source.startswith("env"))}
    request = httpx.Request("POST", "http://sandbox/_sandbox/open", json=payload)
    response = transport.handle_request(request)
    response.read()
    if response.status_code == 410:
        raise Stale(response.json().get("stale"))
    if response.status_code != 200:
        raise httpx.TransportError(f"sandbox server answered {response.status_code}")
    return response.json()


def listening(path: Path) -> bool:
    if not path.parent.is_dir():
        return False
    address = Address(path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(address.value)
            except OSError:
                return False
        return True
    finally:
        address.close()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def start(path: Path) -> bool:
    """Make sure a server listens on ``path``; False if none could be started."""
    directory = path.parent
    paths.private_dir(directory)
    os.chmod(directory, 0o700)
    with _locked(path.with_suffix(".lock")):
        if listening(path):
            return True  # another command started it while this one waited
        _forget(path)
        env = {k: v for k, v in os.environ.items() if k not in CLIENT_ONLY}
        env["EGACTL_DATA_DIR"] = str(paths.data_dir().absolute())
        proc = subprocess.Popen([sys.executable, "-m", "egactl.sandbox_server", str(path)], cwd=directory, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if listening(path):
                return True
            if proc.poll() is not None:
                return False  # its reason is in the sandbox log
            time.sleep(0.02)
        return False


def _forget(path: Path) -> None:
    """Remove a socket nobody listens on and its pid file (a server that was killed)."""
    for stale in (path, path.with_suffix(".pid")):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (an exited child not yet reaped, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: kill(0) is all there is
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def servers(directory: Path | None = None) -> list[dict]:
    """The servers of this data directory (or of the run ``directory`` given): pid, socket,
    and whether it answers."""
    found = []
    directory = directory or run_dir()
    if not directory.is_dir():
        return found
    for sock in sorted(directory.glob("*.sock")) + sorted(p.with_suffix(".sock") for p in directory.glob("*.pid")
                                                          if not p.with_suffix(".sock").exists()):
        pid = _pid(sock.with_suffix(".pid"))
        found.append({"socket": str(sock), "pid": pid, "running": listening(sock),
                      "current": sock.name == f"{key()}.sock"})
    return found


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def stop_all(directory: Path | None = None, timeout: float = 30.0) -> list[int]:
    """Ask every server of this data directory (or of the run ``directory`` given) to leave
    and wait until each has; their pids. A socket or pid file left by a killed server is removed."""
    stopped = []
    for server in servers(directory):
        sock, pid = Path(server["socket"]), server["pid"]
        if not server["running"]:
            _forget(sock)
            continue
        address = Address(sock)
        transport = httpx.HTTPTransport(uds=address.value, verify=False)
        try:
            response = transport.handle_request(httpx.Request("POST", "http://sandbox/_sandbox/stop"))
            response.read()
            pid = response.json().get("pid", pid)
        except (httpx.TransportError, ValueError):
            _forget(sock)
            continue
        finally:
            transport.close()
            address.close()
        deadline = time.monotonic() + timeout
        while pid and alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid:
            stopped.append(pid)
    return stopped
