"""Finding plugins through the ``egactl.plugins`` entry-point group.

Listing plugins and their one-line help imports none of them: the help is the
first line of the plugin package's docstring, read from its source. A plugin
is imported when one of its commands runs, when the backend starts, or for
``egactl plugins list``; a plugin that raises anything while it is imported
(its package, its commands or its backend part) is reported in one line and
skipped, so one broken third-party package cannot break every command.

The entry points are read straight from the ``entry_points.txt`` files of the
``*.dist-info`` / ``*.egg-info`` directories on ``sys.path``, with the same
rules as ``importlib.metadata.entry_points()`` (path order; the first
distribution of a given name wins). ``importlib.metadata`` itself costs more to
import and to run than the whole of ``egactl --help`` may spend, because it
builds a full metadata object for every installed distribution; it is still
used, lazily, for a plugin's distribution name and version (``egactl plugins
list``). Zipped distributions on ``sys.path`` are not scanned.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from functools import lru_cache
from typing import Any, NamedTuple

GROUP = "egactl.plugins"


class EntryPoint(NamedTuple):
    """One ``name = module:attr`` line of a distribution's entry_points.txt.

    The same surface as ``importlib.metadata.EntryPoint`` for what egactl uses
    (``name``, ``value``, ``group``, ``load()``, ``dist``), so that either may
    stand in ``Found.entry_point``. (A NamedTuple: a dataclass costs more to
    define than this whole module may spend on ``egactl --help``.)
    """

    name: str
    value: str
    group: str
    path: str | None = None  # the distribution's metadata directory, when known

    def load(self) -> Any:
        match = re.match(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$", self.value)
        if match is None:
            raise ValueError(f"malformed entry point value {self.value!r}")
        obj: Any = importlib.import_module(match.group("module"))
        for attr in filter(None, (match.group("attr") or "").split(".")):
            obj = getattr(obj, attr)
        return obj

    @property
    def dist(self) -> Any:
        if self.path is None:
            return None
        from importlib.metadata import Distribution

        return Distribution.at(self.path)


class Found(NamedTuple):
    name: str
    entry_point: Any  # EntryPoint above, or an importlib.metadata.EntryPoint

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
        except (Exception, SystemExit) as exc:  # SyntaxError, a RuntimeError of its own, even sys.exit()
            raise PluginError(self.name, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(obj, Plugin):
            raise PluginError(self.name, f"{self.entry_point.value} is not an egactl.plugin.Plugin")
        if obj.name != self.name:
            raise PluginError(self.name, f"declares name {obj.name!r} but is registered as {self.name!r}")
        return obj

    def load_commands(self) -> Any:
        """The plugin's typer app; raises PluginError (the package, or its commands, failed)."""
        plugin = self.load()
        return _part(self.name, "commands", plugin.commands)

    def load_backend(self) -> Any:
        """The plugin's ``BackendPart``, or None for a client-only plugin; raises PluginError."""
        from egactl.plugin import BackendPart

        plugin = self.load()
        if not plugin.backend:
            return None
        part = _part(self.name, "backend", plugin.backend)
        if not isinstance(part, BackendPart):
            raise PluginError(self.name, f"backend: {plugin.backend} is not an egactl.plugin.BackendPart", part="backend")
        return part


def _part(name: str, which: str, path: str) -> Any:
    """Import one part of a plugin; anything it raises (SyntaxError, RuntimeError...) is a PluginError."""
    try:
        return import_path(path)
    except (Exception, SystemExit) as exc:
        raise PluginError(name, f"{which}: {type(exc).__name__}: {exc}", part=which) from exc


class PluginError(Exception):
    """A plugin could not be loaded. ``part``: "package", "commands" or "backend"."""

    def __init__(self, name: str, reason: str, part: str = "package"):
        super().__init__(f"plugin {name!r} could not be loaded ({reason})")
        self.name = name
        self.reason = reason
        self.part = part


@lru_cache(maxsize=1)
def found() -> dict[str, Found]:
    result: dict[str, Found] = {}
    for ep in entry_points(GROUP):
        result.setdefault(ep.name, Found(ep.name, ep))
    return dict(sorted(result.items()))


def entry_points(group: str) -> list[EntryPoint]:
    """The group's entry points of every distribution on ``sys.path``, in path order."""
    points: list[EntryPoint] = []
    seen: set[str] = set()
    for root in sys.path:
        try:
            names = sorted(os.listdir(root or "."))
        except (OSError, TypeError):
            continue  # a zip file, a missing directory, a path hook's placeholder
        for entry in names:
            stem, ext = os.path.splitext(entry)
            if ext not in (".dist-info", ".egg-info"):
                continue
            dist_name = _normalise(stem.partition("-")[0])
            if dist_name in seen:
                continue
            seen.add(dist_name)
            path = os.path.join(root or ".", entry)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError):
                continue
            if f"[{group}]" in text:
                points += _parse(text, group, path)
    return points


def _normalise(name: str) -> str:
    # importlib.metadata's Prepared.normalize (PEP 503, then "-" → "_").
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _parse(text: str, group: str, path: str) -> list[EntryPoint]:
    points = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            points.append(EntryPoint(name.strip(), value.strip(), group, path))
    return points


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
