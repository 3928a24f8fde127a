"""Profiles and settings: precedence flag > env > profile > default, as `config` shows and commands obey.

These run the real root command in-process with a plain ``Context()`` (no test
transport), so settings are resolved exactly as on a user's machine, from the
temporary config directory the autouse fixture provides.
"""

from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner


def egactl(*args: str, input: str | None = None):
    from egactl.cli import app
    from egactl.context import Context

    return CliRunner().invoke(app, list(args), obj=Context(), input=input, catch_exceptions=False)


def config_path():
    return os.path.join(os.environ["EGACTL_CONFIG_DIR"], "config.toml")


def write_config(text: str) -> None:
    os.makedirs(os.environ["EGACTL_CONFIG_DIR"], exist_ok=True)
    with open(config_path(), "w", encoding="utf-8") as fh:
        fh.write(text)


def settings_json(*args: str) -> dict[str, tuple[object, str]]:
    r = egactl("config", "list", "-o", "json", *args)
    assert r.exit_code == 0, r.stderr
    return {row["key"]: (row["value"], row["source"]) for row in json.loads(r.stdout)}


PROFILES = """
current_profile = "prod"

[profiles.prod]
api_url = "https://api.ega.go.tz"
output = "csv"
retries = 2
institution = "RITA"

[profiles.staging]
api_url = "https://staging.ega.go.tz"
"""


def test_nothing_configured_is_the_sandbox_with_defaults():
    s = settings_json()
    assert s["profile"] == ("sandbox", "default")
    assert s["api_url"] == ("sandbox", "default")
    assert s["output"] == ("json", "flag --output")  # settings_json passes -o json
    assert s["connect_timeout"] == (5.0, "default")
    assert all(source == "default" for key, (_, source) in s.items() if key != "output")


def test_profile_values_apply_and_are_attributed():
    write_config(PROFILES)
    s = settings_json()
    assert s["profile"] == ("prod", "config current_profile")
    assert s["api_url"] == ("https://api.ega.go.tz", "profile prod")
    assert s["retries"] == (2, "profile prod")
    assert s["institution"] == ("RITA", "profile prod")
    assert s["read_timeout"] == (30.0, "default")


def test_environment_beats_profile(monkeypatch):
    write_config(PROFILES)
    monkeypatch.setenv("EGACTL_API_URL", "https://env.example")
    monkeypatch.setenv("EGACTL_CA_BUNDLE", "/etc/ssl/ega.pem")
    monkeypatch.setenv("EGACTL_READ_TIMEOUT", "7.5")
    monkeypatch.setenv("EGACTL_OUTPUT", "json")
    monkeypatch.setenv("EGACTL_PROFILE", "staging")
    r = egactl("config", "list")  # no -o: EGACTL_OUTPUT=json decides the format
    assert r.exit_code == 0, r.stderr
    s = {row["key"]: (row["value"], row["source"]) for row in json.loads(r.stdout)}
    assert s["profile"] == ("staging", "env EGACTL_PROFILE")
    assert s["api_url"] == ("https://env.example", "env EGACTL_API_URL")
    assert s["ca_bundle"] == ("/etc/ssl/ega.pem", "env EGACTL_CA_BUNDLE")
    assert s["read_timeout"] == (7.5, "env EGACTL_READ_TIMEOUT")
    assert s["output"] == ("json", "env EGACTL_OUTPUT")
    assert s["retries"] == (4, "default")  # prod's retries = 2 is not consulted: staging is in force


def test_flag_beats_environment(monkeypatch):
    write_config(PROFILES)
    monkeypatch.setenv("EGACTL_PROFILE", "staging")
    monkeypatch.setenv("EGACTL_OUTPUT", "csv")
    s = settings_json("--profile", "prod")
    assert s["profile"] == ("prod", "flag --profile")
    assert s["api_url"] == ("https://api.ega.go.tz", "profile prod")
    assert s["output"] == ("json", "flag --output")


def test_output_setting_changes_what_is_printed(monkeypatch):
    """Not only reported: EGACTL_OUTPUT=csv makes `config list` print CSV, and -o beats it."""
    write_config(PROFILES)  # profile prod says csv
    r = egactl("config", "list")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "key,value,source"
    monkeypatch.setenv("EGACTL_OUTPUT", "tsv")
    assert egactl("config", "list").stdout.splitlines()[0] == "key\tvalue\tsource"
    assert json.loads(egactl("config", "list", "-o", "json").stdout)[0]["key"] == "profile"


def test_table_list_shows_sources(monkeypatch):
    monkeypatch.setenv("EGACTL_RETRIES", "9")
    r = egactl("config", "list")
    assert r.exit_code == 0
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("retries"))
    assert line.split() == ["retries", "9", "env", "EGACTL_RETRIES"]


def test_set_get_unset_round_trip_and_file_mode():
    r = egactl("config", "set", "api_url", "https://api.ega.go.tz", "--profile", "prod")
    assert r.exit_code == 0, r.stderr
    assert "profile prod" in r.stderr and r.stdout == ""
    assert egactl("config", "set", "read_timeout", "12", "-p", "prod").exit_code == 0
    mode = stat.S_IMODE(os.stat(config_path()).st_mode)
    assert mode == 0o600
    text = open(config_path(), encoding="utf-8").read()
    assert "[profiles.prod]" in text and "read_timeout = 12.0" in text
    assert "[profiles.sandbox]" not in text  # --profile reached the command, not the current profile
    assert egactl("config", "get", "api_url", "--profile", "prod").stdout == "https://api.ega.go.tz\n"
    assert egactl("config", "get", "api_url").stdout == "sandbox\n"
    assert egactl("config", "use", "prod").exit_code == 0
    assert egactl("config", "get", "read_timeout").stdout == "12.0\n"
    assert egactl("config", "unset", "read_timeout").exit_code == 0
    assert egactl("config", "get", "read_timeout").stdout == "30.0\n"
    r = egactl("config", "unset", "read_timeout")
    assert r.exit_code == 3 and "not set in profile prod" in r.stderr
    assert stat.S_IMODE(os.stat(config_path()).st_mode) == 0o600


def test_set_rewrites_an_existing_loose_file_as_0600():
    write_config(PROFILES)
    os.chmod(config_path(), 0o644)
    assert egactl("config", "set", "output", "json", "--profile", "staging").exit_code == 0
    assert stat.S_IMODE(os.stat(config_path()).st_mode) == 0o600
    assert settings_json("--profile", "staging")["api_url"] == ("https://staging.ega.go.tz", "profile staging")


@pytest.mark.parametrize("key,value,message", [
    ("output", "yaml", "output must be one of table, wide, json, jsonl, csv, tsv"),
    ("read_timeout", "0", "read_timeout must be greater than 0"),
    ("retries", "many", "retries must be a whole number"),
    ("colour", "red", "unknown setting 'colour'"),
])
def test_set_rejects_bad_values_and_writes_nothing(key, value, message):
    r = egactl("config", "set", key, value)
    assert r.exit_code == 2
    assert message in r.stderr
    assert not os.path.exists(config_path())


def test_profiles_and_use():
    write_config(PROFILES)
    r = egactl("config", "profiles", "-o", "json")
    assert r.exit_code == 0
    rows = {p["name"]: p for p in json.loads(r.stdout)}
    assert set(rows) == {"prod", "staging", "sandbox"}
    assert rows["prod"]["current"] and not rows["staging"]["current"]
    assert egactl("config", "use", "staging").exit_code == 0
    assert settings_json()["profile"] == ("staging", "config current_profile")
    r = egactl("config", "use", "nope")
    assert r.exit_code == 3
    assert "no profile named 'nope'" in r.stderr and "prod, sandbox, staging" in r.stderr


@pytest.mark.parametrize("how", ["flag", "env", "file"])
def test_unknown_profile_is_a_clear_error(how, monkeypatch):
    write_config(PROFILES.replace('current_profile = "prod"', 'current_profile = "gone"' if how == "file" else ""))
    args = ["institutions", "list"]
    if how == "flag":
        args += ["--profile", "nope"]
    elif how == "env":
        monkeypatch.setenv("EGACTL_PROFILE", "nope")
    r = egactl(*args)
    assert r.exit_code == 2
    name = "gone" if how == "file" else "nope"
    source = {"flag": "flag --profile", "env": "env EGACTL_PROFILE", "file": "config current_profile"}[how]
    assert r.stderr.strip() == (f"error: no profile named {name!r} ({source}); "
                                f"known profiles: prod, sandbox, staging")
    assert "Traceback" not in r.stderr + r.stdout
    if how == "file":  # the listing that helps to repair it still works
        assert egactl("config", "profiles").exit_code == 0


def test_malformed_toml_names_file_and_line_exit_2():
    write_config('current_profile = "prod"\n\n[profiles.prod]\napi_url = https://no-quotes\n')
    for args in (["config", "list"], ["institutions", "list"], ["auth", "status"]):
        r = egactl(*args)
        assert r.exit_code == 2, args
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert config_path() in lines[0] and "line 4" in lines[0]
        assert "Traceback" not in r.stderr and r.stdout == ""


def test_bad_value_in_file_or_env_names_where_it_is(monkeypatch):
    write_config('[profiles.sandbox]\nretries = "often"\n')
    r = egactl("config", "list")
    assert r.exit_code == 2
    assert r.stderr.strip() == (f"error: config file {config_path()}, profile sandbox: "
                                "retries must be a whole number, not 'often'")
    write_config("")
    monkeypatch.setenv("EGACTL_CONNECT_TIMEOUT", "soon")
    r = egactl("config", "list")
    assert r.exit_code == 2
    assert "environment variable EGACTL_CONNECT_TIMEOUT" in r.stderr


def test_not_utf8_and_wrong_shape_are_one_line():
    os.makedirs(os.environ["EGACTL_CONFIG_DIR"], exist_ok=True)
    with open(config_path(), "wb") as fh:
        fh.write(b"[profiles.prod]\napi_url = \"caf\xe9\"\n")
    r = egactl("config", "list")
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1 and "not UTF-8" in r.stderr
    write_config("profiles = 3\n")
    r = egactl("config", "list")
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1 and config_path() in r.stderr


def test_tokens_are_not_config_settings():
    r = egactl("config", "set", "token", "ega_secret")
    assert r.exit_code == 2
    assert "ega_secret" not in r.stderr
    assert not os.path.exists(config_path())
