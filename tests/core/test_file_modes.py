"""Files egactl and `egactl serve` write: owner-only whatever the umask, and no data in logs.

Everything that holds data or secrets (the SQLite database and its -wal/-shm,
job state, results files, credentials, logs) must be 0600 in 0700
directories, under `umask 022` and `umask 000` alike; the server log must hold
no SQL parameter (message text, phone number, name), even with SQL echo on.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import free_port, wait_for_port

SECRET_TEXT = "Chanjo ya surua kesho saa 4 asubuhi"
NUMBER = "+255754987321"
NAME_GIVEN, NAME_FAMILY = "Zawadi", "Kilimanjaro"


def _env(base: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update({"EGACTL_CONFIG_DIR": str(base / "home" / "config" / "egactl"),
                "EGACTL_DATA_DIR": str(base / "home" / "share" / "egactl"),
                "EGACTL_CREDENTIAL_STORE": "file", "EGACTL_NO_PROGRESS": "1", **extra})
    return env


def _run(umask: int, env: dict, *args: str, input: str | None = None, cwd: Path | None = None):
    return subprocess.run([sys.executable, "-m", "egactl", *args], env=env, input=input, capture_output=True,
                          text=True, timeout=120, cwd=cwd, preexec_fn=lambda: os.umask(umask))


def _modes(root: Path) -> dict[str, str]:
    """Every file and directory under root (root excluded) with its permission bits."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = oct(stat.S_IMODE(p.lstat().st_mode))
    return out


def _assert_private(modes: dict[str, str], root: Path) -> None:
    assert modes, "nothing was written"
    wrong = {p: m for p, m in modes.items() if m != ("0o700" if (root / p).is_dir() else "0o600")}
    assert not wrong, wrong


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_sandbox_run_writes_only_owner_only_files(tmp_path, umask):
    base = tmp_path / "run"
    base.mkdir(mode=0o700)
    env = _env(base)
    r = _run(umask, env, "sms", "send", "--to", NUMBER, SECRET_TEXT, "-i", "RITA")
    assert r.returncode == 0, r.stderr
    csv_file = base / "input.csv"
    csv_file.write_text("code,name,kind\nZZA,Zanzibar Authority,agency\nBAD!,x,nonsense\n", "utf-8")
    r = _run(umask, env, "institutions", "import", str(csv_file), "--skip-invalid",
             "--results", str(base / "out" / "deep" / "results.csv"))
    assert r.returncode in (0, 6), r.stderr
    csv_file.unlink()
    modes = _modes(base)
    assert "home/share/egactl/sandbox.db" in modes and "out/deep/results.csv" in modes, modes
    assert any(p.startswith("home/share/egactl/jobs/") for p in modes), modes
    _assert_private(modes, base)


def test_an_old_world_readable_results_file_is_narrowed(tmp_path):
    base = tmp_path / "run"
    base.mkdir(mode=0o700)
    results = base / "results.jsonl"
    results.write_text("")
    results.chmod(0o644)
    csv_file = base / "input.csv"
    csv_file.write_text("code,name,kind\nZZB,Zanzibar Board,agency\n", "utf-8")
    r = _run(0o022, _env(base), "institutions", "import", str(csv_file), "--results", str(results))
    assert r.returncode == 0, r.stderr
    assert oct(stat.S_IMODE(results.stat().st_mode)) == "0o600"


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_served_database_wal_shm_and_log_are_owner_only_and_the_log_holds_no_data(tmp_path, umask):
    base = tmp_path / "srv"
    base.mkdir(mode=0o700)
    db = base / "var" / "lib" / "egactl" / "server.db"
    log = base / "var" / "log" / "egactl" / "server.log"
    env = _env(base, EGACTL_SQL_ECHO="1")
    url = f"sqlite:///{db}"
    boot = _run(umask, env, "serve", "tokens", "create", "--role", "admin", "--database-url", url, "-o", "json")
    assert boot.returncode == 0, boot.stderr
    token = json.loads(boot.stdout)["token"]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "egactl", "serve", "--port", str(port), "--database-url", url,
                             "--log-level", "debug", "--log-file", str(log)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: os.umask(umask))
    try:
        wait_for_port(port, proc=proc)
        api = f"http://127.0.0.1:{port}"
        client_env = dict(env, EGACTL_API_URL=api, EGACTL_TOKEN=token)
        r = _run(umask, client_env, "institutions", "create", "ZZC", "--name", "Zanzibar Council", "--kind", "lga")
        assert r.returncode == 0, r.stderr
        for args in (("mail", "domains", "add", "zzc.go.tz", "-i", "ZZC"),
                     ("mail", "create", "-i", "ZZC", "-g", NAME_GIVEN, "-f", NAME_FAMILY, "-e", "987654321"),
                     ("sms", "senders", "request", "ZZC", "-i", "ZZC", "--purpose", "notices"),
                     ("sms", "senders", "approve", "ZZC"),
                     ("sms", "send", "--to", NUMBER, SECRET_TEXT, "-i", "ZZC", "--from", "ZZC")):
            r = _run(umask, client_env, *args)
            assert r.returncode == 0, (args, r.stderr)
        # A failed authentication is logged too, by prefix only.
        bad = httpx.get(f"{api}/api/v1/tokens/self", headers={"Authorization": "Bearer ega_notarealtoken0000"})
        assert bad.status_code == 401
        time.sleep(0.5)
        while_running = _modes(base)
        for name in ("server.db", "server.db-wal", "server.db-shm"):
            assert f"var/lib/egactl/{name}" in while_running, while_running
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    _assert_private(while_running, base)
    _assert_private(_modes(base), base)
    text = log.read_text("utf-8")
    assert "SELECT" in text and "INSERT" in text, "SQL echo was not on: the test would prove nothing"
    assert "ega_notar" in text and "ega_notarealtoken0000" not in text
    for secret in (SECRET_TEXT, "754987321", NAME_FAMILY, "987654321", token):
        assert secret not in text, f"{secret!r} is in the server log"


def test_the_server_log_formatter_drops_the_databases_echo_of_data():
    """PostgreSQL repeats the clashing value in its error (DETAIL: Key (…)=(…)); a logged traceback must not."""
    import logging

    from egactl.server.security import SafeFormatter

    try:
        raise RuntimeError('duplicate key value violates unique constraint "uq_mail_addresses"\n'
                           "DETAIL:  Key (address)=(zawadi.kilimanjaro@zzc.go.tz) already exists.")
    except RuntimeError:
        record = logging.LogRecord("egactl.server", logging.ERROR, __file__, 1, "request %s failed for %s",
                                   ("abc", NUMBER), sys.exc_info())
    text = SafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert "uq_mail_addresses" in text and "request abc failed" in text
    assert "kilimanjaro" not in text and "754987321" not in text and "+255754***321" in text


def test_sql_debug_logging_holds_no_parameter_and_no_row(tmp_path, caplog):
    """Even with SQLAlchemy's own logging at DEBUG (statements, parameters, rows), nothing of the data."""
    import logging

    from sqlalchemy import text

    from egactl.server.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'echo.db'}")
    try:
        with caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"):
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE m (body TEXT, phone TEXT)"))
                conn.execute(text("INSERT INTO m VALUES (:b, :p)"), {"b": SECRET_TEXT, "p": NUMBER})
                assert conn.execute(text("SELECT body, phone FROM m")).all() == [(SECRET_TEXT, NUMBER)]
    finally:
        engine.dispose()
    assert "INSERT INTO m" in caplog.text and "SELECT body" in caplog.text  # the statements are there
    assert SECRET_TEXT not in caplog.text and "754987321" not in caplog.text
