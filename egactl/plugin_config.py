"""A plugin's own settings, per profile, on the client side.

Settings live in the config file (TOML, 0600, written with tomli-w) in the
profile's own table::

    [profiles.prod.plugins.esb]
    token_url = "https://esb.gov.go.tz/gw/govesb-uaa/oauth/token"
    client_id = "rita-crvs"

Secrets never live there: each is kept under its profile, plugin and name by
the rules of ``egactl.credentials`` (the OS keyring, or an owner-only file where
no keyring exists), and ``EGACTL_<PLUGIN>_<NAME>`` (e.g.
``EGACTL_ESB_CLIENT_SECRET``) overrides the stored one, for scripts.
"""

from __future__ import annotations

import os
import re
from typing import Any

from egactl import config, credentials
from egactl.errors import InvalidInput

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _check(what: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"a plugin's {what} is lowercase letters, digits and _, not {name!r}")


Secret = credentials.Token
"""A secret and where it came from (``.value``, ``.source``); its repr never shows the value."""


def load(plugin: str, profile: str) -> dict[str, Any]:
    """The plugin's table in the profile (empty when there is none)."""
    _check("name", plugin)
    table = config.load_file().get("profiles", {}).get(profile, {}).get("plugins", {}).get(plugin, {})
    if not isinstance(table, dict):
        raise InvalidInput(f"config file: [profiles.{profile}.plugins.{plugin}] must be a table",
                           hint="fix or remove it")
    return dict(table)


def save(plugin: str, profile: str, table: dict[str, Any]) -> None:
    """Replace the plugin's table in the profile (the rest of the file is kept); None values are left out."""
    _check("name", plugin)
    data = config.load_file()
    section = data.setdefault("profiles", {}).setdefault(profile, {})
    plugins = section.setdefault("plugins", {})
    plugins[plugin] = {k: v for k, v in table.items() if v is not None}
    if not plugins[plugin]:
        del plugins[plugin]
    if not plugins:
        del section["plugins"]
    config.save_file(data)


def env_name(plugin: str, name: str) -> str:
    return f"EGACTL_{plugin.upper()}_{name.upper()}"


def _secret_name(plugin: str, profile: str, name: str) -> str:
    _check("name", plugin)
    _check("secret name", name)
    return f"{profile}/{plugin}/{name}"


def get_secret(plugin: str, profile: str, name: str) -> Secret | None:
    """``EGACTL_<PLUGIN>_<NAME>``, else the secret stored for the profile, else None."""
    env = env_name(plugin, name)
    if value := os.environ.get(env):
        return Secret(value, f"env {env}")
    found = credentials.get_secret(_secret_name(plugin, profile, name))
    return Secret(*found) if found else None


def store_secret(plugin: str, profile: str, name: str, value: str) -> tuple[str, bool]:
    """Keep a secret; returns (where it went, whether that is the plain-file fallback)."""
    return credentials.store_secret(_secret_name(plugin, profile, name), value)


def delete_secret(plugin: str, profile: str, name: str) -> bool:
    return credentials.delete_secret(_secret_name(plugin, profile, name))
