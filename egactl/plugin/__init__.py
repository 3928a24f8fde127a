"""The egactl plugin SDK: the one package a plugin imports.

A plugin imports nothing of egactl but ``egactl.plugin`` and its modules (an
import contract checks this in the test suite):

- ``egactl.plugin`` (this module): the declaration, :class:`Plugin`,
  :class:`BackendPart` (with its schema history: ``migrations=``),
  :class:`Worker`, :class:`PersonalData`. Import-light: ``egactl --help`` imports it.
- ``egactl.plugin.cli``: the command side (context, shared options, ``Column``,
  errors with exit codes, bulk jobs, the adapter from a rule to a usage error).
- ``egactl.plugin.server``: the backend side (the route class, the request's
  session and caller, institutions, scoping, audit, pages, ETags, models).
- ``egactl.plugin.rules``: shared validation rules and their convention.
- ``egactl.plugin.testing``: a pytest plugin (the backend, a CLI runner, a token
  per role, a fake clock) for the plugin's tests.

``__version__`` is the SDK's version, not egactl's; docs/plugins.md keeps its
changelog.

Everything a plugin may contribute to egactl is declared here.

A plugin is a Python package that declares an entry point in the group
``egactl.plugins``::

    [project.entry-points."egactl.plugins"]
    esb = "egactl_esb:plugin"

The entry point names a :class:`Plugin` object in the package's
``__init__.py``. Keep that module tiny (no imports beyond this one): the
package's *docstring*, first line, is the one-line help that ``egactl --help``
shows, and egactl reads it from the source without importing the package, so
that ``--help`` stays fast and a broken plugin cannot break it.

Everything heavy is named by import path ("module:attribute") and imported only
when it is used: the commands when ``egactl <name> ...`` runs, the backend part
when the reference backend starts (sandbox or ``egactl serve``).

The built-in plugins (ussd, sms, mail, govnet, dr) use exactly this surface.
See docs/plugins.md for a worked example.
"""

from __future__ import annotations

__version__ = "2.2"
"""Version of the plugin SDK (``egactl.plugin`` and its modules); see the changelog in docs/plugins.md."""

__all__ = ["BackendPart", "PersonalData", "Plugin", "Worker", "__version__"]

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover - typing only
    from fastapi import APIRouter


@dataclass(frozen=True)
class Plugin:
    """A plugin's declaration: what egactl imports, and only when it needs it."""

    name: str
    """The command group: ``egactl <name>``; also the URL segment ``/api/v1/<name>``."""

    commands: str
    """Import path of the plugin's ``typer.Typer`` app, e.g. ``"egactl_ussd.commands:app"``."""

    backend: str | None = None
    """Import path of a :class:`BackendPart`, or None for a client-only plugin."""


@dataclass
class Worker:
    """A background job of the reference backend (e.g. SMS delivery).

    ``tick(backend)`` does one bounded round of work and returns how many items
    it handled. ``egactl serve`` calls it every ``interval`` seconds in a thread;
    the in-process sandbox calls it after each mutating request, so work the
    user just queued is visible to the next command.
    """

    name: str
    tick: Callable[[Any], int]
    interval: float = 1.0


@dataclass(frozen=True)
class PersonalData:
    """Which parts of a resource's audit entries are personal data.

    The core masks them for every role that must not see personal data (the
    help desk) wherever the core shows them — the audit log and every history
    built on it — so a plugin declares once and never masks route by route.

    ``id_pattern``: a regular expression the whole ``resource_id`` matches;
    each named group called ``phone``, ``employee_number``, ``name``, ``email``
    or ``text`` is masked, the rest shown (e.g.
    ``r"(?P<institution>[^/]+)/(?P<phone>.+)"`` shows ``RITA/+255754***222``).
    An id that does not match is masked whole: when in doubt, hide.
    ``reason``: the entry's free-text reason may hold personal data (hidden).
    """

    resource_type: str
    id_pattern: str | None = None
    reason: bool = False


@dataclass
class BackendPart:
    """A plugin's part of the reference backend."""

    router: "APIRouter"
    """Mounted at ``/api/v1/<plugin name>``."""

    tables: list[Any] = field(default_factory=list)
    """SQLAlchemy ``Table`` objects (``Model.__table__``) this plugin owns."""

    migrations: str | None = None
    """The package holding this plugin's schema history: Alembic revision scripts,
    e.g. ``"egactl_esb.server.migrations"`` (a directory with an ``__init__.py``
    next to the models). The plugin's tables get their own version table,
    ``alembic_version_<plugin name>``, so the history is the plugin's alone.

    On a database that has never seen the plugin its tables are created from
    ``tables`` and recorded at the newest revision; on one that has, the newer
    revisions run in order (the sandbox does this by itself when it starts;
    ``egactl serve`` leaves it to ``egactl serve migrate``). So: the first
    revision creates the tables as the first release declared them, and every
    later change of a model comes with a revision (``down_revision`` = the
    previous one) written with ``alembic.op``; the test that compares a database
    upgraded from the first revision with the models (see docs/plugins.md,
    "Migrations") fails until it does.

    None: no history; the tables are created when missing and never changed
    (a prototype). A plugin that keeps data should have one from its first release.
    """

    seed: Callable[..., None] | None = None
    """``seed(session, now)``: example data for the sandbox only (never for ``serve``),
    dated from ``now``, the backend clock's moment (an injected clock in tests), never
    the machine's time. (A one-argument ``seed(session)`` of SDK 1.0 is still called.)"""

    workers: list[Worker] = field(default_factory=list)

    personal: list[PersonalData] = field(default_factory=list)
    """Personal data in this plugin's audit entries, masked by the core for the help desk."""

    holdings: Callable[[Any, str], dict[str, int]] | None = None
    """``holdings(session, institution_code) -> {what: count}``: what the institution
    still holds in this plugin, e.g. ``{"USSD codes": 2}``; keys are plural nouns
    (the core says "1 USSD code" for a count of one), zero counts may be left out.

    ``egactl institutions delete`` asks every mounted part, in the same
    transaction as the delete, and refuses (409, exit 5) while anything is held:
    "RITA still holds 2 USSD codes, 14 mailboxes; release them first". Every
    part that keeps rows per institution must answer it, including rows without
    a foreign key to the institution (the database cannot refuse for those).
    The core keeps concurrent creates out of the race: ``get_institution()`` and
    ``require_institution()`` in a writing request lock the institution's row
    against its deletion until the request ends (PostgreSQL ``FOR KEY SHARE``;
    SQLite has one writer at a time)."""

    settings: dict[str, Any] = field(default_factory=dict)
    """Defaults for this plugin's backend settings (e.g. quarantine days);
    overridden by ``EGACTL_<PLUGIN>_<KEY>`` environment variables or by the
    ``settings`` passed to ``create_app``."""

    def __post_init__(self) -> None:
        if self.migrations is not None and not isinstance(self.migrations, str):
            raise TypeError("BackendPart(migrations=...) names the package of the plugin's Alembic revision "
                            "scripts, e.g. \"egactl_esb.server.migrations\" (SDK 2.0: Migration lists are gone)")
