"""A profile's connection to GovESB: its settings, its secrets, its keys and its bus token.

Settings live in the profile's ``[profiles.<profile>.plugins.esb]`` table
(``egactl esb config set``); secrets never do: the client secret, a private key
kept with ``--keyring`` and the cached bus token are kept by egactl's credential
store (the OS keyring, or the owner-only credentials file), and
``EGACTL_ESB_CLIENT_SECRET`` overrides the stored secret. On the sandbox profile
every setting has a default that works against the sandbox's emulator
(``egactl_esb.sandbox``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egactl.plugin.cli import AuthError, InvalidInput, NotFound, plugin_config

PLUGIN = "esb"
KEYRING = "keyring"
"""The ``private_key`` setting's value when the key is kept in the credential store."""

SETTINGS = ("token_url", "engine_url", "client_id", "private_key", "esb_public_key", "ping_code")
SECRET_NAMES = {"client_secret": "client_secret", "private_key": "private_key", "token": "token_cache"}


@dataclass
class Connection:
    profile: str
    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    sandbox: bool = False

    def need(self, name: str, flag: str) -> str:
        value = self.values.get(name)
        if not value:
            raise InvalidInput(f"no {name.replace('_', ' ')} is set for GovESB in profile {self.profile}",
                               hint=f"set it with `egactl esb config set {flag} ...`")
        return value

    def client_secret(self) -> str:
        found = plugin_config.get_secret(PLUGIN, self.profile, SECRET_NAMES["client_secret"])
        if found is not None:
            return found.value
        if self.sandbox:
            from egactl_esb import sandbox

            return sandbox.CONSUMER_SECRET
        raise AuthError(f"no client secret for GovESB in profile {self.profile}",
                        hint="set it with `egactl esb config set --client-secret-file FILE` or EGACTL_ESB_CLIENT_SECRET")

    def private_key(self) -> Any:
        from egactl.plugin.rules import RuleError
        from egactl_esb import rules

        where = self.values.get("private_key")
        if where == KEYRING:
            found = plugin_config.get_secret(PLUGIN, self.profile, SECRET_NAMES["private_key"])
            if found is None:
                raise NotFound(f"profile {self.profile}: the private key is meant to be in the keyring, and is not",
                               hint="run `egactl esb keygen --keyring` or `egactl esb config set --private-key FILE`")
            text, label = found.value, "the keyring's private key"
        elif where:
            try:
                text, label = Path(where).expanduser().read_text("ascii"), f"private key {where}"
            except FileNotFoundError:
                raise NotFound(f"private key {where}: no such file",
                               hint="set another with `egactl esb config set --private-key FILE`") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"private key {where}: cannot be read ({getattr(exc, 'strerror', exc)})") from None
        elif self.sandbox:
            from egactl_esb import sandbox

            text, label = sandbox.CONSUMER_PRIVATE_KEY, "the sandbox's TRA key"
        else:
            raise InvalidInput(f"no private key is set for GovESB in profile {self.profile}",
                               hint="run `egactl esb keygen --keyring`, or `egactl esb config set --private-key FILE`")
        try:
            return rules.import_private(text)
        except RuleError as exc:
            raise InvalidInput(f"{label}: {exc}") from None

    def bus_public_key(self, ctx: Any) -> Any:
        """The key the bus signs its answers with: set in the profile, else asked of the emulator
        when the engine is on the API's own address (the sandbox's, or an egactl server's)."""
        from egactl.plugin.rules import RuleError
        from egactl_esb import client, rules

        text = self.values.get("esb_public_key")
        if not text:
            engine = self.need("engine_url", "--engine-url")
            if not engine.startswith(client.api_base(ctx) + "/"):
                raise InvalidInput(f"no GovESB public key is set in profile {self.profile}",
                                   hint="set the key GovESB gave you: `egactl esb config set --esb-public-key FILE`")
            text = client.bus_key(ctx.api())["public_key"]
            self.sources["esb_public_key"] = "the emulator (/api/v1/esb/key)"
        try:
            return rules.import_public(text)
        except RuleError as exc:
            raise InvalidInput(f"the GovESB public key of profile {self.profile}: {exc}") from None


def resolve(ctx: Any) -> Connection:
    profile = ctx.settings.profile
    table = plugin_config.load(PLUGIN, profile)
    conn = Connection(profile, {}, {}, sandbox=ctx.settings.is_sandbox)
    defaults: dict[str, Any] = {}
    if conn.sandbox:
        from egactl_esb import sandbox

        defaults = sandbox.DEFAULTS
    for name in SETTINGS:
        if table.get(name):
            conn.values[name], conn.sources[name] = table[name], f"profile {profile}"
        elif defaults.get(name):
            conn.values[name], conn.sources[name] = defaults[name], "sandbox default"
        else:
            conn.values[name], conn.sources[name] = None, "not set"
    if conn.sandbox and not conn.values["private_key"]:
        conn.sources["private_key"] = "sandbox default (TRA's key)"
    if not conn.values["esb_public_key"]:
        conn.sources["esb_public_key"] = "asked of the emulator" if conn.sandbox else "not set"
    return conn


# -- the bus token, cached until it expires ------------------------------------------------

MARGIN = dt.timedelta(seconds=30)
"""A cached token this close to its expiry is fetched anew."""


def token(ctx: Any, conn: Connection, *, refresh: bool = False) -> tuple[str, dt.datetime, str]:
    """(token, expires_at, "cache" or "fetched"). The cache belongs to the token URL and client id it came from."""
    from egactl_esb import client

    token_url = conn.need("token_url", "--token-url")
    client_id = conn.need("client_id", "--client-id")
    now = ctx.now()
    if not refresh:
        cached = _cached(conn)
        if cached and cached.get("token_url") == token_url and cached.get("client_id") == client_id:
            try:
                expires = dt.datetime.fromisoformat(cached["expires_at"])
            except (KeyError, TypeError, ValueError):
                expires = None
            if expires is not None and expires - MARGIN > now and isinstance(cached.get("token"), str):
                return cached["token"], expires, "cache"
    data = client.fetch_token(ctx, token_url, client_id, conn.client_secret())
    expires = now + dt.timedelta(seconds=float(data["expires_in"]))
    plugin_config.store_secret(PLUGIN, conn.profile, SECRET_NAMES["token"], json.dumps(
        {"token": data["access_token"], "expires_at": expires.isoformat(), "token_url": token_url,
         "client_id": client_id}))
    return data["access_token"], expires, "fetched"


def _cached(conn: Connection) -> dict[str, Any] | None:
    found = plugin_config.get_secret(PLUGIN, conn.profile, SECRET_NAMES["token"])
    if found is None:
        return None
    try:
        value = json.loads(found.value)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def forget_token(conn: Connection) -> None:
    plugin_config.delete_secret(PLUGIN, conn.profile, SECRET_NAMES["token"])


def redacted(token: str) -> str:
    """Enough of a token to tell two apart, never enough to use: its first 8 characters."""
    return f"{token[:8]}… ({len(token)} characters)"
