"""Where tokens live: the OS keyring, ``EGACTL_TOKEN``, or an owner-only file.

Order of lookup: ``EGACTL_TOKEN`` (scripts, CI) > the store recorded for the
profile at login. At login the token goes to the OS keyring when one is
usable; on a headless server with no keyring backend it goes to
``credentials.toml`` in the config directory, mode 0600, with a one-time
warning. Which store holds a profile's token is remembered in that same small
index (never the token itself for the keyring case), so that reading a token
from the file does not import keyring (≈90 ms) on every command.

``EGACTL_CREDENTIAL_STORE=file|keyring`` forces a store.

Other named secrets (a plugin's client secret or private key for a profile,
``egactl.plugin_config``) are kept by the same rules under their own names:
:func:`get_secret`, :func:`store_secret`, :func:`delete_secret`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from typing import Any

from egactl import paths
from egactl.errors import InvalidInput

SERVICE = "egactl"


@dataclass(frozen=True)
class Token:
    value: str
    source: str  # "env EGACTL_TOKEN", "keyring", "file ~/.config/egactl/credentials.toml"

    def __repr__(self) -> str:  # never let a token reach a log by accident
        return f"Token(source={self.source!r})"


def _index_path():
    return paths.config_dir() / "credentials.toml"


def _read_index() -> dict[str, Any]:
    try:
        return tomllib.loads(_index_path().read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"credentials file {_index_path()} is damaged: {exc}", hint="run `egactl auth logout` and log in again") from None


def _write_index(data: dict[str, Any]) -> None:
    import tomli_w

    paths.write_private(_index_path(), tomli_w.dumps(data).encode("utf-8"))


def _keyring_usable() -> bool:
    forced = os.environ.get("EGACTL_CREDENTIAL_STORE")
    if forced == "file":
        return False
    if forced == "keyring":
        return True
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception:
        return False
    if isinstance(backend, fail.Keyring):
        return False
    # The chainer with no real backend behind it has priority 0 or less.
    return getattr(backend, "priority", 0) > 0


def check(value: str, source: str) -> str:
    """The token without surrounding whitespace; refuse one that cannot be a token.

    A token pasted with a stray CR or other control character would otherwise
    reach httpx, whose "Illegal header value b'Bearer <token>'" error would
    print the token itself. The message here never includes the value.
    """
    value = value.strip()
    if not value:
        raise InvalidInput(f"the token from {source} is empty")
    if not all("!" <= c <= "~" for c in value):
        # Malformed, not rejected: invalid input (exit 2), decided before anything is sent.
        raise InvalidInput(f"the token from {source} contains spaces, control or non-ASCII characters",
                           hint="copy it again exactly as issued")
    return value


def get(profile: str) -> Token | None:
    if value := os.environ.get("EGACTL_TOKEN"):
        return Token(check(value, "EGACTL_TOKEN"), "env EGACTL_TOKEN")
    found = _get("profiles", profile)
    return Token(check(found[0], found[1]), found[2]) if found else None


def store(profile: str, token: str) -> tuple[str, bool]:
    """Keep the token; returns (where it went, whether that is the plain-file fallback)."""
    return _store("profiles", profile, token)


def delete(profile: str) -> bool:
    """Forget the profile's token; True when there was one."""
    return _delete("profiles", profile)


# -- named secrets (a plugin's, per profile) ---------------------------------------------

SECRETS = "secrets"
"""The index's table of named secrets; their keyring user names start with ``SECRET_PREFIX``."""
SECRET_PREFIX = "secret:"


def get_secret(name: str) -> tuple[str, str] | None:
    """The secret called ``name`` (e.g. ``sandbox/esb/client_secret``) and where it is kept."""
    found = _get(SECRETS, name, SECRET_PREFIX + name)
    return (found[0], found[2]) if found else None


def store_secret(name: str, value: str) -> tuple[str, bool]:
    """Keep a named secret as a token is kept; returns (where it went, whether that is the file fallback)."""
    return _store(SECRETS, name, value, SECRET_PREFIX + name)


def delete_secret(name: str) -> bool:
    return _delete(SECRETS, name, SECRET_PREFIX + name)


# -- one store for both --------------------------------------------------------------------


def _get(section: str, name: str, user: str | None = None) -> tuple[str, str, str] | None:
    """(value, where for messages, source) of an entry, or None."""
    entry = _read_index().get(section, {}).get(name)
    if not entry:
        return None
    if entry.get("store") == "file":
        value = entry.get("token")
        return (value, str(_index_path()), f"file {_index_path()}") if value else None
    import keyring

    value = keyring.get_password(SERVICE, user or name)
    return (value, "the system keyring", "keyring") if value else None


def _store(section: str, name: str, value: str, user: str | None = None) -> tuple[str, bool]:
    data = _read_index()
    entries = data.setdefault(section, {})
    if _keyring_usable():
        import keyring

        keyring.set_password(SERVICE, user or name, value)
        entries[name] = {"store": "keyring"}
        _write_index(data)
        return "the system keyring", False
    entries[name] = {"store": "file", "token": value}
    _write_index(data)
    return str(_index_path()), True


def _delete(section: str, name: str, user: str | None = None) -> bool:
    data = _read_index()
    entry = data.get(section, {}).pop(name, None)
    if entry is None:
        return False
    if entry.get("store") == "keyring":
        import keyring
        from keyring.errors import PasswordDeleteError

        try:
            keyring.delete_password(SERVICE, user or name)
        except PasswordDeleteError:
            pass
    _write_index(data)
    return True
