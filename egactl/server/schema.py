"""Schema migrations with Alembic: one version history per component (the core and each plugin).

Each component keeps its own Alembic history (a directory of revision scripts:
the core's is the package ``egactl.server.migrations``, a plugin's is the
package its ``BackendPart(migrations=...)`` names) and its own version table,
``alembic_version_<component>``, so a third-party plugin brings its history
with it and never shares revision ids with anyone. Alembic is driven here
directly (``ScriptDirectory``, ``MigrationContext``, ``Operations``): no
alembic.ini or env.py anywhere.

What a start finds for each component, and does (:func:`plan`):

- ``create``: none of its tables and no version: the tables are created from
  the current models and stamped at the head ("create_all then stamp", as
  Alembic's docs recommend for fresh databases), then seeded (sandbox), all in
  one transaction;
- ``adopt``: a database of the releases before Alembic, which recorded a
  version number per component in ``core_schema_versions`` (or tables with no
  version at all: taken as the first revision): stamped at the revision that
  declares ``egactl_schema_version = <that number>`` (version 1 is the first
  revision unless one says otherwise), then upgraded like any other;
- ``upgrade``: recorded behind the head: the pending revisions run in order;
- ``current``: nothing to do; ``ahead``: the database carries a revision this
  release does not know (a newer egactl migrated it): refused.

Everything runs in one transaction, each component in its own savepoint (a
component that fails is rolled back alone and reported through ``on_error``),
serialised between concurrent starters by a PostgreSQL advisory lock or
SQLite's ``BEGIN IMMEDIATE``. A database where every component is current is
only read: no write lock, and not even Alembic's import (every sandbox command
starts the backend).

``upgrade=False`` (``egactl serve`` on a shared database) still creates a
component it has never seen and records an old release's version, but refuses
to apply revisions: ``egactl serve migrate`` does that, once, explicitly.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Connection, Engine, inspect, text

from egactl.errors import Conflict
from egactl.server.db import is_busy

LEGACY_TABLE = "core_schema_versions"
"""Where the releases before Alembic recorded each component's version number (read only, for adoption)."""

LEGACY_MARK = "egactl_schema_version"
"""Module attribute of a revision script: the pre-Alembic version number it corresponds to."""

_LOCK_KEY = 7220119  # the PostgreSQL advisory lock every migrating process takes


def history_path(package: str) -> Path:
    """The directory of a package of revision scripts, e.g. ``"egactl_sms.server.migrations"``."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise RuntimeError(f"migrations: {package} is not a package (a directory with an __init__.py "
                           "and the revision scripts)")
    return Path(locations[0])


@dataclass
class Component:
    """A part of the schema with its own history: the core, or one plugin.

    ``history``: the package (dotted name) or directory holding its revision
    scripts; None for a plugin without one (its tables are created when
    missing and never changed).
    """

    name: str
    tables: list[Any]
    history: str | Path | None = None

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name}"

    @cached_property
    def script(self) -> Any:
        """The Alembic ``ScriptDirectory`` (None without a history); raises if the history is unusable."""
        if self.history is None:
            return None
        from alembic.script import ScriptDirectory

        path = str(self.history if isinstance(self.history, Path) else history_path(self.history))
        script = ScriptDirectory(path, version_locations=[path])
        heads = script.get_heads()
        if len(heads) != 1:
            raise RuntimeError(f"{self.name}: its schema history must have exactly one head, not "
                               f"{len(heads)} ({', '.join(heads) or 'no revision'})")
        return script

    @property
    def head(self) -> str | None:
        return self.script.get_current_head() if self.script is not None else None

    def table_names(self) -> set[str]:
        return {t.name for t in self.tables}


@dataclass
class Plan:
    """What a start or ``egactl serve migrate`` does for one component."""

    component: str
    action: str
    """``current``, ``create``, ``adopt``, ``upgrade`` or ``ahead``."""
    current: str | None
    """The revision the database records (for ``adopt``: the one it is stamped at)."""
    head: str | None
    pending: list[Any] = field(default_factory=list)
    """The revisions to apply, oldest first (Alembic ``Script`` objects: ``.revision``, ``.doc``)."""


def plan(conn: Connection, comp: Component) -> Plan:
    """Where ``comp`` stands in the database on ``conn``, and what bringing it to its head takes (reads only)."""
    names = set(inspect(conn).get_table_names())
    script = comp.script
    if script is None:
        missing = comp.table_names() - names
        return Plan(comp.name, "create" if missing else "current", None, None)
    head = script.get_current_head()
    if comp.version_table in names:
        from alembic.runtime.migration import MigrationContext

        heads = MigrationContext.configure(conn, opts={"version_table": comp.version_table}).get_current_heads()
        if len(heads) > 1:
            raise RuntimeError(f"{comp.name}: the database records {len(heads)} revisions ({', '.join(heads)})")
        if heads:
            current = heads[0]
            if not _known(script, current):
                return Plan(comp.name, "ahead", current, head)
            pending = _between(script, current, head)
            return Plan(comp.name, "upgrade" if pending else "current", current, head, pending)
    legacy = _legacy_version(conn, comp.name, names)
    if legacy is None and names & comp.table_names():
        legacy = 1  # its tables, made before it had a history: the first revision
    if legacy is None:
        return Plan(comp.name, "create", None, head)
    adopted = adopted_revision(script, comp.name, legacy)
    return Plan(comp.name, "adopt", adopted, head, _between(script, adopted, head))


def adopted_revision(script: Any, name: str, version: int) -> str:
    """The revision a pre-Alembic database recorded at ``version`` corresponds to."""
    bases = script.get_bases()
    for rev in script.walk_revisions():
        if getattr(rev.module, LEGACY_MARK, None) == version:
            return rev.revision
    if version == 1 and len(bases) == 1:
        return bases[0]
    raise RuntimeError(f"{name}: the database records schema version {version}, and no revision of its "
                       f"history declares {LEGACY_MARK} = {version}")


def migrate(engine: Engine, components: list[Component], *,
            seed: Callable[[Connection, str], None] | None = None,
            on_error: Callable[[str, BaseException], None] | None = None,
            upgrade: bool = True) -> list[str]:
    """Bring every component to its head; returns the names created fresh.

    ``seed(conn, name)`` fills a freshly created component in the same
    transaction as its tables, so no other process ever sees the schema without
    its data. ``on_error(name, exc)``: a component whose history, tables,
    revisions or seed raise is rolled back alone (a savepoint) and reported
    there, and the others go on; without it, or when it re-raises, the whole
    migration fails. A database busy beyond its timeout, a schema newer than
    this release, and (``upgrade=False``) one that needs revisions applied are
    never a component's fault: they are raised (``egactl.errors.Conflict``).
    """
    if _all_current(engine, components):
        return []  # read only: no write lock, and Alembic is not even imported
    usable: list[Component] = []
    for comp in components:
        try:
            _ = comp.script
        except Exception as exc:
            _failed(on_error, comp.name, exc)
            continue
        usable.append(comp)
    with engine.connect() as conn:
        plans = []
        for comp in list(usable):
            try:
                plans.append(plan(conn, comp))
            except Exception as exc:
                if is_busy(exc):
                    raise
                _failed(on_error, comp.name, exc)
                usable.remove(comp)
    if all(p.action == "current" for p in plans):
        return []  # read only: no write lock
    refuse(plans, upgrade)

    fresh: list[str] = []
    begin_engine = engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
    with begin_engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
        for comp in usable:
            try:
                with conn.begin_nested():
                    p = plan(conn, comp)  # again, under the lock: another process may have done it
                    refuse([p], upgrade)
                    if p.action == "create":
                        for table in comp.tables:
                            table.create(conn, checkfirst=True)
                        if comp.script is not None:
                            _stamp(conn, comp, p.head)
                        if seed is not None:
                            seed(conn, comp.name)
                        fresh.append(comp.name)
                        continue
                    if p.action == "adopt":
                        _stamp(conn, comp, p.current)
                    if p.pending:
                        upgrade_to(conn, comp)
            except Exception as exc:
                if on_error is None or is_busy(exc) or isinstance(exc, Conflict):
                    raise
                on_error(comp.name, exc)
    return fresh


def refuse(plans: list[Plan], upgrade: bool) -> None:
    """Raise ``Conflict`` for a schema newer than this release, or (``upgrade=False``) one behind it."""
    if ahead := [p for p in plans if p.action == "ahead"]:
        which = ", ".join(f"{p.component} at revision {p.current}" for p in ahead)
        raise Conflict(f"the database schema is newer than this egactl ({which}, unknown here)",
                       hint="run the egactl release that migrated it, or a later one")
    if not upgrade and (behind := [p for p in plans if p.pending]):
        which = ", ".join(f"{p.component}: {len(p.pending)} revision{'s' if len(p.pending) > 1 else ''}"
                          for p in behind)
        raise Conflict(f"the database schema is older than this egactl ({which} to apply)",
                       hint="run `egactl serve migrate` with the same --database-url first")


def differences(conn: Connection, components: list[Component]) -> list[Any]:
    """What the database on ``conn`` lacks or has beyond the components' models
    (Alembic's ``compare_metadata``: tables, columns, types, nullability, indexes,
    unique constraints and foreign keys; only the components' own tables)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import MetaData

    owned = set().union(*(c.table_names() for c in components)) if components else set()
    metadata = MetaData()  # every table the components' models know (foreign keys resolve), compared: their own
    sources = {id(t.metadata): t.metadata for c in components for t in c.tables}
    for source in sources.values():
        for table in source.sorted_tables:
            if table.name not in metadata.tables:
                table.to_metadata(metadata)

    def include_object(obj, name, type_, reflected, compare_to):
        return type_ != "table" or name in owned

    ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
    return compare_metadata(ctx, metadata)


def _all_current(engine: Engine, components: list[Component]) -> bool:
    """True when every component is recorded at its head: a plain read, without Alembic.

    The heads come from :func:`_literal_head` (False when a history is not that
    simple: the full plan decides then)."""
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        for comp in components:
            if comp.history is None:
                if not comp.table_names() <= names:
                    return False
                continue
            try:
                head = _literal_head(comp.history)
            except Exception:
                return False
            if head is None or comp.version_table not in names:
                return False
            if conn.execute(text(f"SELECT version_num FROM {comp.version_table}")).scalars().all() != [head]:
                return False
    return True


_heads: dict[str, str | None] = {}


def _literal_head(history: str | Path) -> str | None:
    """The head of a history read from its scripts' literal ``revision``/``down_revision``
    assignments (importing Alembic costs every sandbox command a tenth of a second);
    None if any script is not that plain or there is not exactly one head."""
    import ast

    path = history if isinstance(history, Path) else history_path(history)
    key = str(path)
    if key in _heads:
        return _heads[key]
    revisions: set[str] = set()
    downs: set[str] = set()
    head: str | None = None
    try:
        for file in sorted(path.glob("*.py")):
            if file.name.startswith("__init__"):
                continue
            found = {}
            for node in ast.parse(file.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                        and node.targets[0].id in ("revision", "down_revision"):
                    found[node.targets[0].id] = ast.literal_eval(node.value)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                        and node.target.id in ("revision", "down_revision") and node.value is not None:
                    found[node.target.id] = ast.literal_eval(node.value)
            rev, down = found.get("revision"), found.get("down_revision", ...)
            if not isinstance(rev, str) or down is ...:
                raise ValueError(file.name)
            revisions.add(rev)
            downs.update([down] if isinstance(down, str) else list(down or ()))
        tips = revisions - downs
        head = tips.pop() if len(tips) == 1 else None
    except (OSError, SyntaxError, ValueError, TypeError):
        head = None
    _heads[key] = head
    return head


def _failed(on_error: Callable[[str, BaseException], None] | None, name: str, exc: BaseException) -> None:
    if on_error is None:
        raise exc
    on_error(name, exc)


def _legacy_version(conn: Connection, name: str, names: set[str]) -> int | None:
    """The version number a release before Alembic recorded for ``name``, if any."""
    if LEGACY_TABLE not in names:
        return None
    return conn.execute(text(f"SELECT version FROM {LEGACY_TABLE} WHERE component = :c"), {"c": name}).scalar()


def _known(script: Any, revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _between(script: Any, lower: str | None, upper: str | None) -> list[Any]:
    """The revisions after ``lower`` up to ``upper``, oldest first."""
    if upper is None or lower == upper:
        return []
    return list(reversed(list(script.iterate_revisions(upper, lower))))


def _stamp(conn: Connection, comp: Component, revision: str | None) -> None:
    from alembic.runtime.migration import MigrationContext

    MigrationContext.configure(conn, opts={"version_table": comp.version_table}).stamp(comp.script, revision)


def upgrade_to(conn: Connection, comp: Component, revision: str | None = None) -> None:
    """Apply ``comp``'s revisions after the one recorded, up to ``revision``
    (None: the head), in order, in the caller's transaction; from its base if
    nothing is recorded. No lock, no plan: :func:`migrate` is what starts use."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext, MigrationStep

    script = comp.script

    def steps(heads: tuple[str, ...], _ctx: Any) -> list[Any]:
        current = heads[0] if heads else None
        return [MigrationStep.upgrade_from_script(script.revision_map, s)
                for s in _between(script, current, revision or script.get_current_head())]

    ctx = MigrationContext.configure(conn, opts={"version_table": comp.version_table, "fn": steps,
                                                 "script": script})
    with Operations.context(ctx):
        ctx.run_migrations()
