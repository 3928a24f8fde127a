"""Profiles and settings: flag > environment > profile > built-in default.

The config file is TOML (read with tomllib, written with tomli-w, mode 0600)::

    current_profile = "prod"

    [profiles.prod]
    api_url = "https://api.ega.go.tz"
    ca_bundle = "/etc/ssl/certs/ega-ca.pem"
    output = "table"

Tokens never live here; see ``egactl.credentials``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egactl import paths
from egactl.errors import InvalidInput

SANDBOX = "sandbox"
OUTPUT_FORMATS = ("table", "wide", "json", "jsonl", "csv", "tsv")
"""``wide`` is the table with every column, nothing cut (like ``kubectl get -o wide``)."""


def _check_url(value: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"api_url must be 'sandbox' or an http:// or https:// URL, not {value!r}",
                           hint="e.g. https://api.ega.go.tz")


@dataclass(frozen=True)
class Key:
    name: str
    help: str
    kind: type = str
    choices: tuple[str, ...] = ()

    @property
    def env(self) -> str:
        return f"EGACTL_{self.name.upper()}"

    def parse(self, raw: Any) -> Any:
        """Validate a value from the file, the environment or `config set`."""
        if self.kind is float:
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise InvalidInput(f"{self.name} must be a number of seconds, not {raw!r}") from None
            if value <= 0:
                raise InvalidInput(f"{self.name} must be greater than 0, not {raw!r}")
            return value
        if self.kind is int:
            try:
                return int(raw)
            except (TypeError, ValueError):
                raise InvalidInput(f"{self.name} must be a whole number, not {raw!r}") from None
        value = str(raw)
        if self.choices and value not in self.choices:
            raise InvalidInput(f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}")
        if self.name == "api_url" and value != SANDBOX:
            _check_url(value)
        return value


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("api_url", "Base URL of the e-GA API, or 'sandbox' for the in-process backend"),
        Key("ca_bundle", "PEM file of CA certificates to trust instead of the system store"),
        Key("connect_timeout", "Seconds to wait for a connection", float),
        Key("read_timeout", "Seconds to wait for a response", float),
        Key("retries", "Attempts for a retryable request (connection error, 429, 503)", int),
        Key("output", "Default output format", str, OUTPUT_FORMATS),
        Key("institution", "Default institution code for commands that take --institution"),
    )
}

DEFAULTS: dict[str, Any] = {
    "api_url": SANDBOX,
    "ca_bundle": None,
    "connect_timeout": 5.0,
    "read_timeout": 30.0,
    "retries": 4,
    "output": "table",
    "institution": None,
}


def load_file(path: Path | None = None) -> dict[str, Any]:
    """Read the config file; a missing file is an empty config."""
    path = path or paths.config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"config file {path} is not UTF-8 text", hint="fix or remove it") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already names the line and column: "... (at line 3, column 7)".
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}", hint="fix or remove it") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise InvalidInput(f"config file {path}: [profiles.NAME] must be tables", hint="fix or remove it")
    return data


def save_file(data: dict[str, Any], path: Path | None = None) -> None:
    import tomli_w

    paths.write_private(path or paths.config_file(), tomli_w.dumps(data).encode("utf-8"))


@dataclass
class Settings:
    """The settings in force for one command, and where each came from."""

    profile: str
    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def is_sandbox(self) -> bool:
        return self.values["api_url"] == SANDBOX


def resolve(
    *,
    profile_flag: str | None = None,
    output_flag: str | None = None,
    env: dict[str, str] | None = None,
    file_data: dict[str, Any] | None = None,
) -> Settings:
    """Apply the precedence rule once, for the whole command."""
    env = os.environ if env is None else env
    data = load_file() if file_data is None else file_data
    profiles = data.get("profiles", {})
    if profile_flag:
        profile, profile_source = profile_flag, "flag --profile"
    elif env.get("EGACTL_PROFILE"):
        profile, profile_source = env["EGACTL_PROFILE"], "env EGACTL_PROFILE"
    elif data.get("current_profile"):
        profile, profile_source = str(data["current_profile"]), "config current_profile"
    else:
        profile, profile_source = SANDBOX, "default"
    if profile not in profiles and profile != SANDBOX:
        known = ", ".join(sorted(set(profiles) | {SANDBOX}))
        raise InvalidInput(f"no profile named {profile!r} ({profile_source})", hint=f"known profiles: {known}")
    section = profiles.get(profile, {})
    values: dict[str, Any] = {}
    sources: dict[str, str] = {"profile": profile_source}
    for name, key in KEYS.items():
        if name == "output" and output_flag:
            raw, source, where = output_flag, "flag --output", "--output"
        elif env.get(key.env):
            raw, source, where = env[key.env], f"env {key.env}", f"environment variable {key.env}"
        elif name in section:
            raw, source, where = section[name], f"profile {profile}", f"config file {paths.config_file()}, profile {profile}"
        else:
            values[name], sources[name] = DEFAULTS[name], "default"
            continue
        try:
            values[name], sources[name] = key.parse(raw), source
        except InvalidInput as exc:
            # Say where the bad value lives, or the user cannot find it to fix it.
            raise InvalidInput(f"{where}: {exc.message}", hint=exc.hint) from None
    return Settings(profile=profile, values=values, sources=sources)
