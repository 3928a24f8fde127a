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

__version__ = "2.7"
"""Version of the plugin SDK (``egactl.plugin`` and its modules); see the changelog in docs/plugins.md."""

__all__ = ["BackendPart", "PERSONAL_KINDS", "PersonalData", "Plugin", "Privacy", "Retention", "Worker", "__version__",
           "personal"]

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


PERSONAL_KINDS = ("phone", "email", "name", "employee_number", "text")
"""What a column of personal data holds. A model declares each such column with
``mapped_column(..., info=personal("phone"))``; a test walks every model and fails
on a column that holds one of these without saying so."""


def personal(kind: str, *, why: str = "") -> dict[str, Any]:
    """``info=`` for a column that holds personal data: ``mapped_column(String(16), info=personal("phone"))``.

    ``kind`` is one of :data:`PERSONAL_KINDS`; ``why`` the lawful purpose, as
    docs/privacy.md states it for the data protection officer."""
    if kind not in PERSONAL_KINDS:
        raise ValueError(f"personal data kind must be one of {', '.join(PERSONAL_KINDS)}, not {kind!r}")
    return {"personal": kind, "why": why}


@dataclass(frozen=True)
class Retention:
    """A class of personal data kept for a period, then pseudonymised by the core's retention worker.

    ``expire(session, cutoff, pseudonym, limit)`` makes at most ``limit`` rows
    older than ``cutoff`` (a UTC datetime) anonymous and returns how many it
    touched: a phone number becomes ``pseudonym(number)`` (a keyed hash, the same
    for the same number, so opt-outs keep working and counts stay right), texts
    are dropped, names blanked; counts, states and costs stay. It must be
    idempotent (a row already pseudonymised is not touched again) and
    index-backed. ``due(session, cutoff)`` counts what the next run would touch
    (``egactl privacy retention show``), no further than ``COUNT_UP_TO`` and one more
    (``pagination.count_up_to`` in ``egactl.plugin.server``): a count past it is shown as
    "more than 10,000", so the policy reads as fast with a backlog of millions.

    The period is ``days`` unless the server sets ``EGACTL_PRIVACY_<PLUGIN>_<NAME>_DAYS``,
    or, where that is not set, the environment variable ``formerly`` names (the
    setting's older name, still honoured so that a server which shortened a period
    never silently keeps data longer after an upgrade; a warning names the new one).
    """

    name: str
    """Short and unique in the plugin, e.g. ``"messages"``."""
    what: str
    """For people: ``"SMS numbers and message texts"``."""
    days: int
    after: str
    """From when the period runs: ``"after delivery"``, ``"after the mailbox is purged"``."""
    expire: Callable[[Any, Any, Callable[[str], str], int], int]
    due: Callable[[Any, Any], int]
    formerly: str | None = None
    """An older environment variable for the period, e.g. ``"EGACTL_DR_CHECK_RETENTION_DAYS"``."""


@dataclass(frozen=True)
class Privacy:
    """A plugin's answers to a data subject's request (``egactl privacy``), and its retention.

    The subject (``egactl.plugin.server.Subject``) is a person known by a phone
    number (``subject.phone``, E.164) or an employee number
    (``subject.employee_number``); its ``pseudonym`` is that value's keyed hash.

    ``report(subject)``: everything this plugin holds about the subject that the
    caller may read, as ``[{"kind": "message", "reference": "…", "institution":
    "RITA", "data": {field: value}}]`` (values unmasked: the subject is owed them).
    Runs in a read request scope: ``db()``, ``principal()``, ``visible()``.

    ``erase(subject)``: remove or pseudonymise everything personal this plugin
    holds about the subject, now, in the request's transaction (the core erases
    all plugins in one); returns ``{what: count}`` (``"messages pseudonymised"``…).
    A request sent with ``X-Dry-Run: true`` is rolled back by the frame, so the
    counts of a dry run are those the real one would give. Keep whatever must keep
    working as the pseudonym (an opt-out stays an opt-out).
    """

    report: Callable[[Any], list[dict[str, Any]]]
    erase: Callable[[Any], dict[str, int]]
    retention: tuple[Retention, ...] = ()


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

    find: Callable[[Any, int], list[Any]] | None = None
    """``find(term, limit) -> [Found, ...]``: this plugin's answers to ``egactl find``.

    ``term`` is an ``egactl.plugin.server.Term``: what the core recognised the
    text as (``phone``, ``email``, ``ip``, ``host``, ``digits``, ``words``,
    ``code``; the raw ``text`` for a plugin's own forms). Answer the readings
    this plugin holds data for and nothing else, at most ``limit`` results,
    each an ``egactl.plugin.server.Found``. It runs in a read-only request scope
    of its own, in parallel with the other plugins: ``db()``, ``principal()`` and
    ``visible()`` work as in a route, and results are masked as the plugin's own
    read routes mask them (the help desk sees masked phone numbers and names).
    Every query must be index-backed (``egactl.plugin.testing.query_plans``): the
    help desk waits for the slowest plugin."""

    privacy: Privacy | None = None
    """This plugin's part of a data subject's report and erasure, and its retention periods
    (:class:`Privacy`); required of a plugin with a column declared ``personal(...)``."""

    settings: dict[str, Any] = field(default_factory=dict)
    """Defaults for this plugin's backend settings (e.g. quarantine days);
    overridden by ``EGACTL_<PLUGIN>_<KEY>`` environment variables or by the
    ``settings`` passed to ``create_app``."""

    def __post_init__(self) -> None:
        if self.migrations is not None and not isinstance(self.migrations, str):
            raise TypeError("BackendPart(migrations=...) names the package of the plugin's Alembic revision "
                            "scripts, e.g. \"egactl_esb.server.migrations\" (SDK 2.0: Migration lists are gone)")
