"""Shared fixtures: the real backend, driven through the real commands.

- ``app`` / ``backend``: the reference backend on a temporary SQLite file, with a
  ``FakeClock`` (``clock.advance(days=91)`` instead of sleeping) and the core
  seed (EGA, RITA, TRA, NIDA, MOH, UDOM, KINONDONI-MC, ARUSHA-CC).
- ``tokens``: a token per role: admin, operator of RITA, operator of TRA, helpdesk.
- ``cli``: runs ``egactl ARGS`` through typer's CliRunner against that backend
  over a real HTTP exchange (httpx ASGI transport); ``cli(..., role="helpdesk")``.
- ``served``: ``egactl serve`` as a real process on a free loopback port.
- ``postgres_url``: a throwaway PostgreSQL 15 server (session-wide); skips, loudly,
  only when none can be started, and fails instead under CI (``CI=true``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("EGACTL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own config and data directories and no stray settings.

    A sandbox command run in the test's process builds the backend there
    (``EGACTL_SANDBOX_IDLE=0``), as one that monkeypatches the backend expects; a
    test that wants the sandbox's server sets the variable itself. Any sandbox server
    started under the test's directory (a subprocess's or a docs page's environment
    has one by default) is stopped when the test ends, so none outlives its test."""
    for name in list(os.environ):
        if name.startswith("EGACTL_") or name == "NO_COLOR":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EGACTL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("EGACTL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EGACTL_CREDENTIAL_STORE", "file")
    monkeypatch.setenv("EGACTL_NO_PROGRESS", "1")
    monkeypatch.setenv("EGACTL_SANDBOX_IDLE", "0")
    monkeypatch.setenv("COLUMNS", "200")
    yield tmp_path
    stop_sandbox_servers(tmp_path)


def stop_sandbox_servers(root: Path, depth: int = 6) -> list[int]:
    """Stop every sandbox server whose data directory lies under ``root``; their pids."""
    from egactl.sandbox_client import RUN_DIR, stop_all

    stopped = []
    base = len(root.parts)
    for here, dirs, _ in os.walk(root):
        if RUN_DIR in dirs:
            stopped += stop_all(Path(here) / RUN_DIR)
        if len(Path(here).parts) - base >= depth:
            dirs[:] = []
        else:
            dirs[:] = [d for d in dirs if d not in (RUN_DIR, "site-packages", "node_modules", ".git")]
    return stopped


@pytest.fixture
def clock():
    from egactl.server.clock import FakeClock

    return FakeClock()


@pytest.fixture
def backend_settings():
    """Override in a test module to pass plugin settings to create_app."""
    return {}


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory) -> Path:
    """A backend database at the current schema with the core seed, made once per test process
    (by ``create_app`` and ``seed_core``, at the ``clock`` fixture's instant): each test's ``app``
    starts from a copy of it, as a server starts on a database already migrated. Building the
    schema anew took 50 ms a test, a minute of the suite's CPU."""
    import sqlite3

    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock
    from egactl.server.seed import seed_core

    path = tmp_path_factory.mktemp("seeded") / "backend.db"
    application = create_app(f"sqlite:///{path}", clock=FakeClock())
    be = application.state.backend
    with be.write_sessions() as session:
        seed_core(session, be.now())
        session.commit()
    be.engine.dispose()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file that is copied
    return path


@pytest.fixture
def app(tmp_path, clock, backend_settings, seeded_database):
    from egactl.server.app import create_app

    path = tmp_path / "backend.db"
    shutil.copy2(seeded_database, path)
    application = create_app(f"sqlite:///{path}", clock=clock, settings=backend_settings)
    be = application.state.backend
    yield application
    be.engine.dispose()


@pytest.fixture
def backend(app):
    return app.state.backend


@pytest.fixture
def http(app):
    """A plain HTTP client of the test backend (real HTTP exchanges, in-process): for what the
    API answers, headers and all, without the CLI."""
    import httpx

    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    client = httpx.Client(transport=transport, base_url="http://backend")
    yield client
    client.close()
    transport.close()


@pytest.fixture
def tokens(backend):
    from egactl.server.security import issue_token

    specs = {
        "admin": ("admin@ega.go.tz", "admin", []),
        "operator": ("ops@rita.go.tz", "operator", ["RITA"]),
        "operator_tra": ("ops@tra.go.tz", "operator", ["TRA"]),
        "helpdesk": ("helpdesk@ega.go.tz", "helpdesk", []),
    }
    out = {}
    with backend.write_sessions() as session:
        for key, (subject, role, insts) in specs.items():
            out[key], _ = issue_token(session, subject=subject, role=role, institutions=insts, now=backend.now())
        session.commit()
    return out


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    def json(self):
        import json

        return json.loads(self.stdout)


class Cli:
    """Run egactl commands against the test backend, as a given role."""

    def __init__(self, app, tokens):
        from egactl.sandbox import SyncASGITransport

        self.transport = SyncASGITransport(app)
        self.tokens = tokens

    def __call__(self, *args: str, role: str = "admin", input: str | None = None, token: str | None = None,
                 sleep=None) -> Result:
        from typer.testing import CliRunner

        from egactl.cli import app
        from egactl.context import Context

        ctx = Context(transport=self.transport, token=token or self.tokens[role],
                      sleep=sleep or (lambda s: None))
        runner = CliRunner()
        r = runner.invoke(app, list(args), obj=ctx, input=input, catch_exceptions=True)
        exc = r.exception if not isinstance(r.exception, SystemExit) else None
        return Result(r.exit_code, r.stdout, r.stderr, exc)

    def close(self):
        self.transport.close()


@pytest.fixture
def cli(app, tokens):
    runner = Cli(app, tokens)
    yield runner
    runner.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving_in_thread(asgi_app, name: str):
    """``asgi_app`` served by uvicorn on a free loopback port, in a thread of this process (so a
    test can reach into it, e.g. hold a request at a statement); yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, f"{name} did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# Generous: a loaded 2-core machine can take long to start a server (several processes under --processes N);
# a server that dies is seen at once through proc.poll().
def wait_for_port(port: int, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


@dataclass
class Served:
    url: str
    database_url: str
    admin_token: str
    env: dict
    proc: subprocess.Popen

    def run(self, *args: str, token: str | None = None, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the real egactl executable against this server."""
        env = dict(self.env, EGACTL_TOKEN=token or self.admin_token)
        return subprocess.run([sys.executable, "-m", "egactl", *args], env=env, input=input, capture_output=True,
                              text=True, timeout=timeout)

    def popen(self, *args: str, token: str | None = None) -> subprocess.Popen:
        env = dict(self.env, EGACTL_TOKEN=token or self.admin_token)
        return subprocess.Popen([sys.executable, "-m", "egactl", *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def token(self, role: str, *institutions: str, subject: str = "test") -> str:
        args = ["serve", "tokens", "create", "--role", role, "--subject", subject, "--database-url", self.database_url]
        for i in institutions:
            args += ["--institution", i]
        r = subprocess.run([sys.executable, "-m", "egactl", *args, "-o", "json"], env=self.env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        import json

        return json.loads(r.stdout)["token"]


def start_server(tmp_path: Path, database_url: str | None = None, extra_env: dict | None = None) -> Served:
    database_url = database_url or f"sqlite:///{tmp_path / 'served.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update({"EGACTL_CONFIG_DIR": str(tmp_path / "client-config"), "EGACTL_DATA_DIR": str(tmp_path / "client-data"),
                "EGACTL_CREDENTIAL_STORE": "file", "EGACTL_NO_PROGRESS": "1", **(extra_env or {})})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env["EGACTL_API_URL"] = url
    bootstrap = subprocess.run([sys.executable, "-m", "egactl", "serve", "tokens", "create", "--role", "admin",
                                "--subject", "admin@ega.go.tz", "--database-url", database_url, "-o", "json"],
                               env=env, capture_output=True, text=True)
    assert bootstrap.returncode == 0, bootstrap.stderr
    import json

    admin = json.loads(bootstrap.stdout)["token"]
    proc = subprocess.Popen([sys.executable, "-m", "egactl", "serve", "--port", str(port), "--database-url", database_url],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_port(port, proc=proc)
    return Served(url, database_url, admin, env, proc)


@pytest.fixture
def served(tmp_path):
    server = start_server(tmp_path)
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


# -- PostgreSQL ---------------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _postgres_unavailable(reason: str) -> None:
    """Skip loudly on a developer's machine; under CI (CI=true) fail, so a run that
    silently tested nothing on PostgreSQL can never pass."""
    message = f"PostgreSQL NOT TESTED: {reason}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL 15 for the whole session."""
    if not (PG_BIN / "initdb").exists():
        _postgres_unavailable(f"no initdb under {PG_BIN}")
    import tempfile

    # Not under pytest's tmp dirs: those are 0700 root, which the postgres user cannot enter.
    base = Path(tempfile.mkdtemp(prefix="egactl-pg-"))
    datadir = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    port = free_port()
    try:
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
                                     "--no-sync", "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-l", str(base / "log"), "-w", "-o",
                                     f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
                                     f"-c max_connections=300", "start"]),
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        _postgres_unavailable(f"could not start a server ({exc}; {detail[-300:]!r})")
    yield {"port": port, "base": base}
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]),
                   capture_output=True, timeout=60)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, request):
    """A fresh database on the session's server, for one test."""
    import uuid

    name = "t_" + uuid.uuid4().hex[:12]
    port = postgres_server["port"]
    subprocess.run(_as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name]),
                   check=True, capture_output=True, timeout=60)
    return f"postgresql://postgres@127.0.0.1:{port}/{name}"


@contextlib.contextmanager
def cli_on(database_url: str, roles: tuple[str, ...] = ("admin",)):
    """A backend on ``database_url`` (e.g. a throwaway PostgreSQL) with the core seed, and a
    ``Cli`` holding a token per role of ``roles`` (as the ``tokens`` fixture names them)."""
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core

    specs = {"admin": ("admin@ega.go.tz", "admin", []), "operator": ("ops@rita.go.tz", "operator", ["RITA"])}
    application = create_app(database_url, clock=FakeClock())
    be = application.state.backend
    with be.write_sessions() as session:
        seed_core(session, be.now())
        tokens = {r: issue_token(session, subject=specs[r][0], role=specs[r][1], institutions=specs[r][2],
                                 now=be.now())[0] for r in roles}
        session.commit()
    runner = Cli(application, tokens)
    try:
        yield runner, be
    finally:
        runner.close()
        be.engine.dispose()
