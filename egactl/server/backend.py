"""The running backend's state: database, clock, settings, plugin parts, workers."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from egactl.plugin import BackendPart, Worker
from egactl.server.clock import Clock, system_clock

log = logging.getLogger("egactl.server")


@dataclass
class Backend:
    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]
    parts: dict[str, BackendPart] = field(default_factory=dict)
    clock: Clock = system_clock
    sandbox: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    core_workers: list[Worker] = field(default_factory=list)
    """The core's own background jobs (e.g. the retention of personal data), run like a plugin's."""

    def now(self):
        return self.clock()

    def setting(self, plugin: str, key: str) -> Any:
        """A plugin setting: create_app(settings=…) > EGACTL_<PLUGIN>_<KEY> > the plugin's default."""
        dotted = f"{plugin}.{key}"
        if dotted in self.overrides:
            return self.overrides[dotted]
        default = self.parts[plugin].settings.get(key) if plugin in self.parts else None
        env = os.environ.get(f"EGACTL_{plugin.upper()}_{key.upper()}")
        if env is None:
            return default
        if isinstance(default, bool):
            return env.lower() in ("1", "true", "yes", "on")
        if isinstance(default, (int, float)):
            return type(default)(env)
        return env

    def all_workers(self) -> list[tuple[str, Worker]]:
        """(owner, worker): the core's, then every plugin's."""
        return [("core", w) for w in self.core_workers] + [(name, w) for name, part in self.parts.items()
                                                             for w in part.workers]

    def run_workers(self) -> int:
        done = 0
        for name, worker in self.all_workers():
            try:
                done += worker.tick(self)
            except Exception:  # a worker's failure must not fail the request that triggered it
                log.exception("worker %s/%s failed", name, worker.name)
        return done
