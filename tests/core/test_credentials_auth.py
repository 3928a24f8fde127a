"""Credentials: login verified by a real server, keyring or owner-only file, EGACTL_TOKEN first.

One `egactl serve` process serves the whole module (starting one costs seconds);
each test has its own config directory (autouse fixture), so stored tokens
never leak between tests. Commands run in-process with a plain ``Context()``,
so the real credential lookup and a real HTTP exchange happen; the keyring
tests need that, since an in-memory keyring backend lives in this process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import free_port, start_server


def admin_call(srv, method: str, path: str, body: dict) -> dict:
    """Set-up through the HTTP API with the admin token (cheaper than a subprocess per step)."""
    import httpx

    r = httpx.request(method, srv.url + path, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {srv.admin_token}", "Idempotency-Key": os.urandom(8).hex()})
    assert r.status_code < 300, r.text
    return r.json()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("auth-server"))
    admin_call(srv, "POST", "/api/v1/institutions",
               {"code": "RITA", "name": "Registration Insolvency and Trusteeship Agency", "kind": "agency"})
    srv.operator = admin_call(srv, "POST", "/api/v1/tokens",
                              {"subject": "ops@rita.go.tz", "role": "operator", "institutions": ["RITA"]})["token"]
    srv.helpdesk = admin_call(srv, "POST", "/api/v1/tokens", {"subject": "helpdesk@ega.go.tz", "role": "helpdesk"})["token"]
    yield srv
    srv.proc.terminate()
    srv.proc.wait(timeout=10)


def egactl(*args: str, input: str | None = None):
    from egactl.cli import app
    from egactl.context import Context

    return CliRunner().invoke(app, list(args), obj=Context(), input=input, catch_exceptions=False)


def config_dir() -> str:
    return os.environ["EGACTL_CONFIG_DIR"]


def use_profile(url: str, name: str = "dev") -> None:
    os.makedirs(config_dir(), exist_ok=True)
    with open(os.path.join(config_dir(), "config.toml"), "w") as fh:
        fh.write(f'current_profile = "{name}"\n[profiles.{name}]\napi_url = "{url}"\n')


def credentials_file() -> str:
    return os.path.join(config_dir(), "credentials.toml")


def read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


@pytest.fixture
def memory_keyring(monkeypatch):
    """An in-memory keyring backend, installed for this test only."""
    import keyring
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self):
            super().__init__()
            self.items: dict[tuple[str, str], str] = {}

        def get_password(self, service, username):
            return self.items.get((service, username))

        def set_password(self, service, username, password):
            self.items[(service, username)] = password

        def delete_password(self, service, username):
            if self.items.pop((service, username), None) is None:
                raise PasswordDeleteError(username)

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_login_rejected_token_is_not_stored(server):
    use_profile(server.url)
    bogus = "ega_ThisTokenWasNeverIssued0000000000000000"
    r = egactl("auth", "login", "--with-token", input=bogus + "\n")
    assert r.exit_code == 4
    assert "not valid" in r.stderr and bogus not in r.stderr + r.stdout
    assert not os.path.exists(credentials_file())
    r = egactl("institutions", "list")
    assert r.exit_code == 4 and "not logged in to profile 'dev'" in r.stderr


def test_login_unreachable_server_stores_nothing(monkeypatch):
    monkeypatch.setenv("EGACTL_RETRIES", "1")
    use_profile(f"http://127.0.0.1:{free_port()}")
    r = egactl("auth", "login", "--with-token", input="ega_whatever\n")
    assert r.exit_code == 7
    assert not os.path.exists(credentials_file())


def test_login_file_fallback_is_0600_and_warns_once(server):
    use_profile(server.url)
    r = egactl("auth", "login", "--with-token", input=server.operator + "\n")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert warnings == [f"warning: no system keyring found; the token is kept in {credentials_file()} "
                        "(readable only by you)"]
    assert "as ops@rita.go.tz (operator)" in r.stderr
    assert stat.S_IMODE(os.stat(credentials_file()).st_mode) == 0o600
    assert server.operator not in read(os.path.join(config_dir(), "config.toml"))
    # Later commands use the stored token and do not repeat the warning.
    r = egactl("institutions", "list", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [i["code"] for i in json.loads(r.stdout)] == ["RITA"]
    assert "warning" not in r.stderr


def test_status_shows_identity_role_institutions_and_source(server):
    use_profile(server.url)
    assert egactl("auth", "login", "--with-token", input=server.operator + "\n").exit_code == 0
    r = egactl("auth", "status", "-o", "json")
    assert r.exit_code == 0, r.stderr
    me = json.loads(r.stdout)
    assert me["profile"] == "dev" and me["api_url"] == server.url
    assert me["subject"] == "ops@rita.go.tz" and me["role"] == "operator" and me["institutions"] == ["RITA"]
    assert me["token_source"] == f"file {credentials_file()}"
    assert server.operator not in r.stdout
    table = egactl("auth", "status").stdout
    assert "LOGGED IN AS  ops@rita.go.tz" in table and "INSTITUTIONS  RITA" in table


def test_env_token_wins_over_the_stored_one(server, monkeypatch):
    use_profile(server.url)
    assert egactl("auth", "login", "--with-token", input=server.operator + "\n").exit_code == 0
    monkeypatch.setenv("EGACTL_TOKEN", server.helpdesk)
    me = json.loads(egactl("auth", "status", "-o", "json").stdout)
    assert me["subject"] == "helpdesk@ega.go.tz" and me["token_source"] == "env EGACTL_TOKEN"
    # …and it is what the API sees: helpdesk may not mutate, the stored operator could.
    r = egactl("institutions", "update", "RITA", "--region", "Dodoma")
    assert r.exit_code == 4
    monkeypatch.delenv("EGACTL_TOKEN")
    assert json.loads(egactl("auth", "status", "-o", "json").stdout)["subject"] == "ops@rita.go.tz"


def test_env_token_works_without_any_login(server, monkeypatch):
    monkeypatch.setenv("EGACTL_API_URL", server.url)
    monkeypatch.setenv("EGACTL_TOKEN", server.operator)
    r = egactl("institutions", "show", "RITA", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["code"] == "RITA"
    assert not os.path.exists(credentials_file())


def test_logout_forgets_the_token(server):
    use_profile(server.url)
    assert egactl("auth", "login", "--with-token", input=server.operator + "\n").exit_code == 0
    r = egactl("auth", "logout")
    assert r.exit_code == 0 and "Logged out of profile dev" in r.stderr
    assert server.operator not in read(credentials_file())
    r = egactl("auth", "status")
    assert r.exit_code == 4 and "not logged in to profile 'dev'" in r.stderr
    r = egactl("auth", "logout")
    assert r.exit_code == 4 and "nothing to forget" in r.stderr


def test_keyring_store(server, memory_keyring, monkeypatch):
    monkeypatch.setenv("EGACTL_CREDENTIAL_STORE", "keyring")
    use_profile(server.url)
    r = egactl("auth", "login", "--with-token", input=server.operator + "\n")
    assert r.exit_code == 0, r.stderr
    assert "warning" not in r.stderr and "token kept in the system keyring" in r.stderr
    assert memory_keyring.items == {("egactl", "dev"): server.operator}
    # The index says where the token is, never the token.
    assert server.operator not in read(credentials_file())
    assert 'store = "keyring"' in read(credentials_file())
    me = json.loads(egactl("auth", "status", "-o", "json").stdout)
    assert me["token_source"] == "keyring" and me["subject"] == "ops@rita.go.tz"
    assert egactl("institutions", "show", "RITA").exit_code == 0
    assert egactl("auth", "logout").exit_code == 0
    assert memory_keyring.items == {}
    assert egactl("institutions", "show", "RITA").exit_code == 4


def test_keyring_is_detected_without_forcing(server, memory_keyring, monkeypatch):
    """With no EGACTL_CREDENTIAL_STORE, a usable backend is used, and the fail backend means the file."""
    import keyring
    from keyring.backends import fail

    monkeypatch.delenv("EGACTL_CREDENTIAL_STORE")
    use_profile(server.url)
    assert egactl("auth", "login", "--with-token", input=server.operator + "\n").exit_code == 0
    assert memory_keyring.items == {("egactl", "dev"): server.operator}
    keyring.set_keyring(fail.Keyring())
    use_profile(server.url, name="other")
    r = egactl("auth", "login", "--with-token", input=server.helpdesk + "\n")
    assert r.exit_code == 0, r.stderr
    assert "no system keyring found" in r.stderr
    assert server.helpdesk in read(credentials_file())


def test_sandbox_profile_refuses_login():
    r = egactl("auth", "login", "--with-token", input="ega_x\n")
    assert r.exit_code == 2 and "sandbox profile logs itself in" in r.stderr


@pytest.mark.parametrize("bad", ["ega_abc\rdef", "ega_abc\ndef", "ega_abc def", "ega_abcdéf"])
def test_malformed_env_token_is_refused_without_echoing_it(server, monkeypatch, bad):
    """A token with CR/LF used to reach httpx, whose 'Illegal header value' error printed it."""
    monkeypatch.setenv("EGACTL_API_URL", server.url)
    monkeypatch.setenv("EGACTL_TOKEN", bad)
    for args in (["institutions", "list"], ["--debug", "institutions", "list"], ["-o", "json", "auth", "status"]):
        r = egactl(*args)
        assert r.exit_code == 2, (args, r.stderr)  # malformed: invalid input, not a rejected token
        assert "EGACTL_TOKEN" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        for part in ("abc", "def"):
            assert part not in r.stderr + r.stdout


def test_env_token_surrounding_whitespace_is_ignored(server, monkeypatch):
    monkeypatch.setenv("EGACTL_API_URL", server.url)
    monkeypatch.setenv("EGACTL_TOKEN", f"  {server.operator}\r\n")
    assert egactl("institutions", "show", "RITA").exit_code == 0


# -- the token never shows up where it should not -------------------------------------------


def drain(stream) -> str:
    """What a running process has written to a pipe so far, without waiting for more."""
    fd = stream.fileno()
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def test_token_never_in_output_debug_errors_logs_or_files(server, monkeypatch, isolated_env):
    """Log in, use the token, fail in every way, with --debug; search every output and file."""
    token = admin_call(server, "POST", "/api/v1/tokens",
                       {"subject": "leak@rita.go.tz", "role": "operator", "institutions": ["RITA"]})["token"]
    dead = f"http://127.0.0.1:{free_port()}"
    outputs: list[str] = []

    def check(expected: int, *args: str, input: str | None = None, **env: str):
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            r = egactl(*args, input=input)
        assert r.exit_code == expected, (args, r.stderr)
        outputs.append(r.stdout + r.stderr)

    check(0, "config", "set", "api_url", server.url, "--profile", "dev")
    check(0, "config", "set", "api_url", dead, "--profile", "dead")
    check(0, "config", "use", "dev")
    check(0, "--debug", "auth", "login", "--with-token", input=token + "\n")
    check(0, "--debug", "auth", "status")
    check(0, "--debug", "-o", "json", "auth", "status")
    check(0, "--debug", "institutions", "list", "-o", "json")
    check(3, "--debug", "institutions", "show", "NOPE")
    check(3, "-o", "json", "institutions", "show", "NOPE")
    check(4, "--debug", "institutions", "create", "NEWCO", "--name", "New Co", "--kind", "agency")
    check(4, "-o", "json", "institutions", "delete", "RITA", "--yes")
    check(0, "--debug", "api", "GET", "tokens/self", "--include")
    check(7, "--debug", "--profile", "dead", "institutions", "list", EGACTL_TOKEN=token, EGACTL_RETRIES="1")
    check(4, "--debug", "institutions", "list", EGACTL_TOKEN=token + "x")
    check(2, "--debug", "institutions", "list", EGACTL_TOKEN=token[:10] + "\r" + token[10:])  # malformed
    # The real executable too (its own process, stderr as a user's terminal would get it).
    env = {k: v for k, v in os.environ.items()}
    proc = subprocess.run([sys.executable, "-m", "egactl", "--debug", "institutions", "show", "RITA"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    outputs.append(proc.stdout + proc.stderr)
    # --debug really printed the exchange, so the search below means something.
    assert sum("authorization: Bearer [REDACTED]" in o for o in outputs) >= 8
    outputs.append(drain(server.proc.stdout) + drain(server.proc.stderr))  # the server's log so far
    for text in outputs:
        assert token not in text
        assert token[10:] not in text  # nor its secret part (the 10-character prefix is an identifier)
    config_text = open(os.path.join(config_dir(), "config.toml"), encoding="utf-8").read()
    assert "dev" in config_text and token[10:] not in config_text
    check(0, "auth", "logout")
    for dirpath, _, files in os.walk(isolated_env):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                assert token[10:].encode() not in fh.read(), os.path.join(dirpath, name)
    # The server keeps only a hash of it.
    db = server.database_url.removeprefix("sqlite:///")
    for path in (db, db + "-wal"):
        if os.path.exists(path):
            with open(path, "rb") as fh:
                assert token[10:].encode() not in fh.read()


def test_login_prompts_in_a_terminal_without_echo(server):
    """A person at a terminal pastes the token at a hidden prompt; it is verified, then kept."""
    import io

    from egactl.cli import app
    from egactl.context import Context
    from egactl.output import IOStreams

    class TTY(io.StringIO):
        def isatty(self):
            return True

    use_profile(server.url)
    out, err = TTY(), TTY()
    ctx = Context(io=IOStreams(out=out, err=err, inp=TTY()))
    r = CliRunner().invoke(app, ["auth", "login"], obj=ctx, input=server.operator + "\n")
    assert r.exit_code == 0, r.stderr
    assert "Paste your e-GA API token:" in r.stderr
    assert server.operator not in r.stdout + r.stderr + out.getvalue() + err.getvalue()  # hidden input
    assert "as ops@rita.go.tz (operator)" in err.getvalue()
    assert json.loads(egactl("auth", "status", "-o", "json").stdout)["subject"] == "ops@rita.go.tz"


def test_login_and_logout_warn_when_env_token_still_applies(server, monkeypatch):
    use_profile(server.url)
    monkeypatch.setenv("EGACTL_TOKEN", server.helpdesk)
    r = egactl("auth", "login", "--with-token", input=server.operator + "\n")
    assert r.exit_code == 0, r.stderr
    assert "warning: EGACTL_TOKEN is set and takes precedence over the stored token" in r.stderr
    r = egactl("auth", "logout")
    assert r.exit_code == 0
    assert "warning: EGACTL_TOKEN is set in the environment; unset it too: commands still use it" in r.stderr
    r = egactl("auth", "logout")
    assert r.exit_code == 4 and "unset it too" in r.stderr
    assert server.helpdesk not in r.stderr
