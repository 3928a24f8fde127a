"""A profile's GovESB connection: esb config, esb token, esb check, keygen --keyring, the sandbox."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys

from tests.esb.esb_bus import bus, loopback  # noqa: F401 (fixtures)


def with_clock(bus, now):
    """Run egactl with the command's clock set (``ctx.now()``), as the backend's is."""
    from typer.testing import CliRunner

    from egactl.cli import app
    from egactl.context import Context
    from tests.conftest import Result

    def run(*args):
        ctx = Context(transport=bus.cli.transport, token=bus.cli.tokens["admin"], sleep=lambda s: None,
                      clock=lambda: now)
        r = CliRunner().invoke(app, list(args), obj=ctx)
        return Result(r.exit_code, r.stdout, r.stderr)

    return run


def test_check_is_ok_end_to_end_and_says_so_in_nagios_terms(bus, clock):
    run = with_clock(bus, clock.now)
    r = run("esb", "check", "--code", "RITA-BIRTH", "-o", "json")
    assert r.exit_code == 0, r.stderr
    states = {row["check"]: row["state"] for row in json.loads(r.stdout)}
    assert states == {"key": "OK", "bus key": "OK", "tls": "OK", "token": "OK", "ping": "OK", "signature": "OK",
                      "clock": "OK"}
    assert bus.provider.seen[-1]["body"] == {"ping": True}
    r = run("esb", "check", "--code", "RITA-BIRTH", "--nagios")
    assert r.exit_code == 0 and r.stdout.startswith("ESB OK - 7 checks OK | 'token'=")


def test_check_sees_a_skewed_clock_and_a_refused_ping(bus, clock):
    run = with_clock(bus, clock.now - dt.timedelta(minutes=10))
    r = run("esb", "check", "--code", "RITA-BIRTH", "--nagios")
    assert r.exit_code == 2, r.stdout
    assert r.stdout.startswith("ESB CRITICAL - clock CRITICAL the bus's clock is 600 s ahead of this machine's")
    run = with_clock(bus, clock.now + dt.timedelta(seconds=45))
    r = run("esb", "check", "--code", "RITA-BIRTH", "--nagios")
    assert r.exit_code == 1 and "clock WARNING the bus's clock is 45 s behind" in r.stdout
    run = with_clock(bus, clock.now)
    r = run("esb", "check", "--code", "RITA-NOPE")
    assert r.exit_code == 1
    assert "CRITICAL" in r.stdout and "RITA-NOPE: success false (Unknown API code RITA-NOPE)" in r.stdout


def test_check_with_bad_credentials_is_critical_and_goes_no_further(bus, tmp_path):
    (tmp_path / "wrong.txt").write_text("wrong\n")
    assert bus.cli("esb", "config", "set", "--client-secret-file", str(tmp_path / "wrong.txt")).exit_code == 0
    r = bus.cli("esb", "check", "--code", "RITA-BIRTH", "-o", "json")
    assert r.exit_code == 1
    states = {row["check"]: row["state"] for row in r.json()}
    assert states["token"] == "CRITICAL" and states["ping"] == "UNKNOWN"
    assert bus.provider.seen == []


def test_config_keeps_settings_in_the_profile_table_and_the_secret_out_of_the_config_file(bus):
    from egactl import paths

    text = paths.config_file().read_text()
    assert "[profiles.sandbox.plugins.esb]" in text and 'client_id = "tra-idras"' in text
    assert bus.secret not in text
    assert stat.S_IMODE(paths.config_file().stat().st_mode) == 0o600
    creds = paths.config_dir() / "credentials.toml"
    assert bus.secret in creds.read_text() and stat.S_IMODE(creds.stat().st_mode) == 0o600  # the file fallback
    r = bus.cli("esb", "config", "show", "-o", "json")
    rows = {row["setting"]: row for row in r.json()}
    assert rows["client_id"]["value"] == "tra-idras" and rows["client_id"]["source"] == "profile sandbox"
    assert rows["client_secret"]["value"] == "(set)" and bus.secret not in r.stdout
    assert rows["token_url"]["source"] == "sandbox default"
    assert bus.cli("config", "list").exit_code == 0  # the core's config commands with the nested table
    bad = bus.cli("esb", "config", "set", "--token-url", "not a url")
    assert bad.exit_code == 2 and "--token-url" in bad.stderr
    assert bus.cli("esb", "config", "set").exit_code == 2


def test_the_environment_overrides_the_stored_client_secret(bus, monkeypatch):
    monkeypatch.setenv("EGACTL_ESB_CLIENT_SECRET", "from-the-environment")
    r = bus.cli("esb", "token", "show", "--refresh")
    assert r.exit_code == 4 and "Bad client credentials" in r.stderr
    monkeypatch.setenv("EGACTL_ESB_CLIENT_SECRET", bus.secret)
    assert bus.cli("esb", "token", "show", "--refresh").exit_code == 0


def test_the_token_is_cached_until_it_expires(bus, clock):
    run = with_clock(bus, clock.now)
    first = json.loads(run("esb", "token", "show", "-o", "json").stdout)
    again = json.loads(run("esb", "token", "show", "-o", "json").stdout)
    assert (first["source"], again["source"]) == ("fetched", "cache") and first["token"] == again["token"]
    assert first["expires_in"] == 3600 and first["token"].startswith("esb_") and first["token"].endswith("(47 characters)")
    later = with_clock(bus, clock.now + dt.timedelta(minutes=59, seconds=45))  # within the 30 s margin
    assert json.loads(later("esb", "token", "show", "-o", "json").stdout)["source"] == "fetched"


def test_keygen_keyring_keeps_the_private_key_out_of_files_and_send_signs_with_it(bus, tmp_path):
    from egactl import paths

    r = bus.cli("esb", "keygen", "--keyring", "--out", str(tmp_path / "kr"), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert not (tmp_path / "kr" / "esb-private.key").exists() and r.json()["private_key_file"] is None
    assert "private_key" in paths.config_file().read_text() and '"keyring"' in paths.config_file().read_text()
    assert bus.cli("esb", "keygen", "--keyring", "--out", str(tmp_path / "kr2")).exit_code == 5  # never replaced
    # the bus knows TRA's old key: this one must be registered before it is accepted
    refused = bus.send("RITA-BIRTH")
    assert refused.exit_code == 9 and "Invalid signature" in refused.stderr
    assert bus.cli("esb", "clients", "create", "tra-idras-2", "-i", "TRA", "--public-key",
                   str(tmp_path / "kr" / "esb-public.key"), "-o", "json").exit_code == 0


def test_a_fresh_sandbox_works_out_of_the_box(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(EGACTL_CONFIG_DIR=str(tmp_path / "c"), EGACTL_DATA_DIR=str(tmp_path / "d"),
               EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1")

    def egactl(*args, input=None):
        return subprocess.run([sys.executable, "-m", "egactl", *args], env=env, input=input, capture_output=True,
                              text=True, timeout=120)

    r = egactl("esb", "send", "RITA-BIRTH-VERIFY", "--body", "-", "--encrypt", "-o", "json",
               input='{"certificateNumber": "B-2024-000123"}')
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["body"]["name"] == "Asha Juma" and out["decrypted"] is True and out["signature"] == "valid"
    r = egactl("esb", "check", "--nagios")
    assert r.returncode == 0 and r.stdout.startswith("ESB OK - 7 checks OK"), r.stdout + r.stderr
    r = egactl("esb", "apis", "show", "RITA-BIRTH-VERIFY", "-o", "json", "--query", "endpoint")
    assert json.loads(r.stdout) == "http://sandbox/api/v1/esb/sandbox/provider"
