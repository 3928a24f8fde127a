"""Finding plugins through the ``egactl.plugins`` entry-point group.

Listing plugins and their one-line help imports none of them: the help is the
first line of the plugin package's docstring, read from its source. A plugin
is imported when one of its commands runs, when the backend starts, or for
``egactl plugins list``; a plugin that fails to import is reported in one line
and skipped, so one broken third-party package cannot break every command.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

GROUP = "egactl.plugins"


@dataclass(frozen=True)
class Found:
    name: str
    entry_point: EntryPoint

    @property
    def module(self) -> str:
        return self.entry_point.value.split(":", 1)[0].strip()

    @property
    def distribution(self) -> tuple[str, str]:
        dist = self.entry_point.dist
        if dist is None:
            return ("?", "?")
        return (dist.metadata["Name"], dist.version)

    def help(self) -> str:
        return _docstring_first_line(self.module)

    def load(self):
        """Import the plugin's declaration (a ``Plugin``); raises PluginError."""
        from egactl.plugin import Plugin

        try:
            obj = self.entry_point.load()
        except Exception as exc:
            raise PluginError(self.name, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(obj, Plugin):
            raise PluginError(self.name, f"{self.entry_point.value} is not an egactl.plugin.Plugin")
        if obj.name != self.name:
            raise PluginError(self.name, f"declares name {obj.name!r} but is registered as {self.name!r}")
        return obj


class PluginError(Exception):
    def __init__(self, name: str, reason: str):
        super().__init__(f"plugin {name!r} could not be loaded ({reason})")
        self.name = name
        self.reason = reason


@lru_cache(maxsize=1)
def found() -> dict[str, Found]:
    result: dict[str, Found] = {}
    for ep in entry_points(group=GROUP):
        result.setdefault(ep.name, Found(ep.name, ep))
    return dict(sorted(result.items()))


def import_path(path: str) -> Any:
    """``"package.module:attribute"`` → the attribute."""
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def _docstring_first_line(module: str) -> str:
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return ""
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            source = fh.read(4096)
    except OSError:
        return ""
    # The docstring is the module's first statement; a cheap scan avoids importing ast.
    stripped = source.lstrip()
    for quote in ('"""', "'''"):
        if stripped.startswith(quote):
            body = stripped[3:]
            end = body.find(quote)
            text = body if end < 0 else body[:end]
            return text.strip().splitlines()[0].strip() if text.strip() else ""
    return ""
