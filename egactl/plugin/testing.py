"""The test side of the plugin SDK: a pytest plugin with the real backend, and the history check.

Activate it in the plugin's ``tests/conftest.py``::

    pytest_plugins = ["egactl.plugin.testing"]

Fixtures (all function-scoped, each test gets its own database and directories):

- ``egactl_env``: private config and data directories, a file credential
  store, no progress bars, no stray ``EGACTL_*`` variables (used by the rest);
- ``egactl_clock``: the backend's clock, a fake one that moves only when told
  (``egactl_clock.advance(days=91)``), never by sleeping;
- ``egactl_plugins``: the plugins to mount (default: all installed; override
  with ``["esb"]`` to test one alone); ``egactl_settings``: backend settings
  overriding the plugins' defaults, keyed ``"<plugin>.<key>"`` (e.g.
  ``{"ussd.quarantine_days": 1}``);
- ``egactl_app`` / ``egactl_backend``: the reference backend (its ASGI app and
  the backend behind it) on a temporary SQLite file, with the
  core's example institutions (EGA, RITA, TRA, NIDA, MOH, UDOM, KINONDONI-MC,
  ARUSHA-CC); ``egactl_backend.write_sessions()`` to look at what it stored;
- ``egactl_tokens``: a token per role: ``admin``, ``operator`` (of RITA),
  ``operator_tra`` (of TRA), ``helpdesk``;
- ``egactl_cli``: ``egactl_cli("esb", "endpoints", "list", role="operator")``
  runs the real command in-process against that backend over a real HTTP
  exchange and returns the result (``exit_code``, ``stdout``, ``stderr``).

And three functions:

- :func:`query_plans`: ``query_plans(engine, "sms_messages", lambda: cli(...))``
  runs the action, captures the SELECTs it sent that read the table, and returns
  the database's plan for each (SQLite's ``EXPLAIN QUERY PLAN``; PostgreSQL's
  ``EXPLAIN`` with sequential scans and sorts priced out, since a small test
  table would otherwise be scanned, which says nothing of a large one): for a
  test that a look-up reads one index range, whatever the table's size;

- :func:`complete`: ``complete("egactl esb endpoints show RI")`` asks the real
  ``egactl`` executable for TAB completions as a shell's completion script does
  (bash by default; ``shell="zsh"`` or ``"fish"``) and returns the candidates,
  failing the test if anything reaches stderr (a shell would show it);

- :func:`history_differences`: ``history_differences(part, database_url)``
  runs the plugin's history from its base on an empty database and lists
  where the result differs from its models (``[]``: they agree).
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

__all__ = ["ROLES", "complete", "query_plans", "egactl_app", "egactl_backend", "egactl_cli", "egactl_clock", "egactl_env", "egactl_plugins",
           "egactl_settings", "egactl_tokens", "history_differences"]

ROLES: dict[str, tuple[str, str, list[str]]] = {
    "admin": ("admin@ega.go.tz", "admin", []),
    "operator": ("ops@rita.go.tz", "operator", ["RITA"]),
    "operator_tra": ("ops@tra.go.tz", "operator", ["TRA"]),
    "helpdesk": ("helpdesk@ega.go.tz", "helpdesk", []),
}
"""The roles ``egactl_tokens`` issues: name -> (subject, role, institutions)."""


@pytest.fixture
def egactl_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("EGACTL_") or name == "NO_COLOR":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EGACTL_CONFIG_DIR", str(tmp_path / "egactl-config"))
    monkeypatch.setenv("EGACTL_DATA_DIR", str(tmp_path / "egactl-data"))
    monkeypatch.setenv("EGACTL_CREDENTIAL_STORE", "file")
    monkeypatch.setenv("EGACTL_NO_PROGRESS", "1")
    yield tmp_path
    # A sandbox command in the test started the sandbox's server: it ends with the test.
    from egactl.sandbox_client import RUN_DIR, stop_all

    stop_all(tmp_path / "egactl-data" / RUN_DIR)


@pytest.fixture
def egactl_clock():
    from egactl.server.clock import FakeClock

    return FakeClock()


@pytest.fixture
def egactl_plugins() -> list[str] | None:
    return None


@pytest.fixture
def egactl_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
def egactl_app(egactl_env, egactl_clock, egactl_plugins, egactl_settings) -> Iterator[Any]:
    from egactl.server.app import create_app
    from egactl.server.seed import seed_core

    app = create_app(f"sqlite:///{egactl_env / 'egactl-backend.db'}", clock=egactl_clock, settings=egactl_settings,
                     plugins=egactl_plugins)
    be = app.state.backend
    with be.write_sessions() as session:
        seed_core(session, be.now())
        session.commit()
    yield app
    be.engine.dispose()


@pytest.fixture
def egactl_backend(egactl_app) -> Any:
    return egactl_app.state.backend


@pytest.fixture
def egactl_tokens(egactl_backend) -> dict[str, str]:
    from egactl.server.security import issue_token

    out = {}
    with egactl_backend.write_sessions() as session:
        for key, (subject, role, institutions) in ROLES.items():
            out[key], _ = issue_token(session, subject=subject, role=role, institutions=institutions,
                                      now=egactl_backend.now())
        session.commit()
    return out


@pytest.fixture
def egactl_cli(egactl_app, egactl_tokens):
    from typer.testing import CliRunner

    from egactl.cli import app
    from egactl.context import Context
    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(egactl_app)

    def run(*args: str, role: str = "admin", token: str | None = None, input: str | None = None):
        ctx = Context(transport=transport, token=token or egactl_tokens[role], sleep=lambda s: None)
        return CliRunner().invoke(app, list(args), obj=ctx, input=input)

    yield run
    transport.close()


def history_differences(part: Any, database_url: str) -> list[Any]:
    """Where a database built by the plugin's schema history differs from its models; ``[]`` when they agree.

    ``part``: the plugin's ``BackendPart`` (its ``migrations`` and ``tables``).
    ``database_url``: an empty database, e.g. ``f"sqlite:///{tmp_path / 'history.db'}"``
    or a new PostgreSQL database (``postgresql://…``).

    The database is built as a deployment that installed the plugin's first
    release and upgraded through every later one has it: the core's history is
    run to its head, then the plugin's, from its base to its head, in its own
    version table. The plugin's tables are then compared with ``part.tables``
    by Alembic's ``compare_metadata`` (``alembic check``): tables, columns,
    types, nullability, indexes, unique constraints and foreign keys. The
    differences are Alembic's, e.g. ``("add_column", None, "esb_endpoints",
    Column("owner", ...))`` for a column a model gained without a revision; a
    table the history creates and no model declares is ``("remove_table",
    <that table>)``.

    Raises ``ValueError`` for a part without a history or a database that is
    not empty, and whatever a revision raises (a history with two heads, a
    revision that fails) as it is.
    """
    from sqlalchemy import MetaData, Table, create_engine, inspect

    from egactl.server.app import components_of
    from egactl.server.db import normalise_url
    from egactl.server.schema import differences, upgrade_to

    if not getattr(part, "migrations", None):
        raise ValueError("this BackendPart declares no schema history (BackendPart(migrations=...))")
    name = part.migrations.split(".")[0].removeprefix("egactl_")  # names only the version table
    core, own = components_of({name: part})
    _ = own.script  # an unusable history (not a package, two heads) raises before anything is built
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            held = sorted(inspect(conn).get_table_names())
        if held:
            raise ValueError(f"history_differences needs an empty database; this one holds {', '.join(held[:5])}"
                             + (", ..." if len(held) > 5 else ""))
        with engine.begin() as conn:
            upgrade_to(conn, core)
            upgrade_to(conn, own)
        with engine.connect() as conn:
            found = list(differences(conn, [own]))
            known = core.table_names() | own.table_names() | {core.version_table, own.version_table}
            for extra in sorted(set(inspect(conn).get_table_names()) - known):
                found.append(("remove_table", Table(extra, MetaData(), autoload_with=conn)))
        return found
    finally:
        engine.dispose()


def complete(line: str, shell: str = "bash") -> list[str]:
    """The completions the real executable offers for ``line`` (see the module docstring)."""
    import subprocess
    import sys

    env = dict(os.environ, _EGACTL_COMPLETE=f"complete_{shell}")
    if shell == "bash":
        env.update(COMP_WORDS=line, COMP_CWORD=str(len(line.split(" ")) - 1))
    else:
        env.update(_TYPER_COMPLETE_ARGS=line, _TYPER_COMPLETE_FISH_ACTION="get-args")
    r = subprocess.run([sys.executable, "-m", "egactl"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout.splitlines()


def query_plans(engine: Any, table: str, action: Any) -> list[str]:
    """The plans of the SELECTs reading ``table`` that ``action()`` sent (see the module docstring).

    Counting queries (``count(``) are left out: they are bounded by the page's count cap."""
    from sqlalchemy import event, text

    seen: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and table in statement and "count(" not in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    plans = []
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))
            conn.execute(text("SET enable_sort = off"))
            for statement, parameters in seen:
                plans.append(" | ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters)))
        else:
            for statement, parameters in seen:
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                plans.append(" | ".join(str(r[-1]) for r in rows))
    return plans
