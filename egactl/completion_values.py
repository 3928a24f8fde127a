"""Shell completion of values, not only of names.

- ``-o/--output`` completes the output formats, and the global options
  (``--output``, ``--query``, ``--profile``, ``--debug``, ``--no-color``) are
  offered after a subcommand too, where they are just as valid.
- ``-i/--institution`` completes institution codes from the API.
- :func:`complete_from` gives a plugin the same for its own values (USSD codes,
  sites, systems, sender IDs ...): ``typer.Option(..., autocompletion=
  complete_from("/api/v1/ussd/codes", "code", state="assigned"))``.

Values read from the API are cached for :data:`TTL` seconds per profile (a file
in the data directory, 0600), so a burst of TAB presses asks the server once. A
completion never fails loudly: no server, no login, a slow network → no
candidates, within :data:`TIMEOUT` seconds.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

TTL = 60.0
TIMEOUT = 2.0
MAX_VALUES = 500


def complete_from(path: str, field: str, help_field: str | None = None,
                  **params: Any) -> Callable[[str], list[tuple[str, str]]]:
    """An ``autocompletion=`` callback offering ``field`` of the records at ``path``."""

    def complete(incomplete: str) -> list[tuple[str, str]]:
        values = cached_values(path, field, help_field, params)
        typed = incomplete.lower()
        return [(v, h) for v, h in values if v.lower().startswith(typed)]

    return complete


def complete_institutions(incomplete: str) -> list[tuple[str, str]]:
    """Institution codes (with their names) for ``-i/--institution``."""
    return complete_from("/api/v1/institutions", "code", "name")(incomplete)


def complete_output(incomplete: str) -> list[tuple[str, str]]:
    from egactl.config import OUTPUT_FORMATS

    return [(f, "") for f in OUTPUT_FORMATS if f.startswith(incomplete)]


def complete_profiles(incomplete: str) -> list[tuple[str, str]]:
    """The profiles of the configuration file, for ``--profile``."""
    from egactl import config

    try:
        profiles = (config.load_file().get("profiles") or {})
    except Exception:
        return []
    return [(name, "") for name in profiles if name.startswith(incomplete)]


def cached_values(path: str, field: str, help_field: str | None, params: dict[str, Any]) -> list[tuple[str, str]]:
    import io

    from egactl.context import Context
    from egactl.output import IOStreams

    try:
        ctx = Context(io=IOStreams(out=io.StringIO(), err=io.StringIO()))  # nothing may reach the shell's screen
        profile = ctx.settings.profile
    except Exception:
        return []
    key = json.dumps([profile, path, field, help_field, sorted(params.items())], default=str)
    cache = _read_cache()
    entry = cache.get(key)
    if entry and time.time() - entry["at"] < TTL:
        return [tuple(v) for v in entry["values"]]
    try:
        records = _fetch(ctx, path, params)
    except Exception:
        return []
    finally:
        ctx.close()
    values = [(str(r.get(field)), str(r.get(help_field) or "") if help_field else "")
              for r in records if isinstance(r, dict) and r.get(field) is not None]
    cache = {k: v for k, v in cache.items() if time.time() - v["at"] < TTL}
    cache[key] = {"at": time.time(), "values": values}
    _write_cache(cache)
    return values


def _fetch(ctx: Any, path: str, params: dict[str, Any]) -> list[dict]:
    values = ctx.settings.values
    if not ctx.settings.is_sandbox:  # a person is waiting at the TAB key
        values["read_timeout"] = min(float(values.get("read_timeout") or TIMEOUT), TIMEOUT)
        values["connect_timeout"] = min(float(values.get("connect_timeout") or TIMEOUT), TIMEOUT)
        values["retries"] = 0
    return ctx.api().list(path, limit=MAX_VALUES, **params)


def _cache_path():
    from egactl import paths

    return paths.data_dir() / "completion-cache.json"


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(cache: dict[str, Any]) -> None:
    try:
        from egactl.paths import write_private

        write_private(_cache_path(), json.dumps(cache).encode())
    except OSError:
        pass
