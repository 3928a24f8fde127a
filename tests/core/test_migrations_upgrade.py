"""Migrations a deployment can trust, on SQLite and PostgreSQL.

- A database built by running every component's history from its base (the
  first release's schema, with rows in it) is the same as a freshly created
  one: Alembic's ``compare_metadata`` finds nothing, and the reflected tables,
  indexes, constraints and foreign keys are identical; the rows survive.
- Each plugin's history alone builds its models, by the check the SDK gives every
  plugin for its own tests (``egactl.plugin.testing.history_differences``).
- A model changed without a revision is caught by that comparison.
- A database of the release before Alembic (versions in core_schema_versions)
  is refused by ``egactl serve`` with one line naming ``egactl serve migrate``,
  which adopts it and upgrades it, keeping its data.
- A third-party plugin's history is found from its declaration
  (``BackendPart(migrations=...)``) and upgraded by ``egactl serve migrate``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, Index, String, create_engine, inspect, text

from egactl.plugin.testing import history_differences
from egactl.server.app import components_of, create_app, load_parts
from egactl.server.db import normalise_url
from egactl.server.schema import Component, differences, upgrade_to

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", "postgres"])
def new_database(request, tmp_path):
    """Makes a new, empty database and returns its URL (as many as asked)."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path / uuid.uuid4().hex[:8]}.db"
    server = request.getfixturevalue("postgres_server")
    from conftest import PG_BIN, _as_postgres

    def make() -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        subprocess.run(_as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(server["port"]),
                                     "-U", "postgres", name]), check=True, capture_output=True, timeout=60)
        return f"postgresql://postgres@127.0.0.1:{server['port']}/{name}"

    return make


@pytest.fixture
def engines():
    made = []

    def make(url):
        engine = create_engine(normalise_url(url))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


def components() -> list[Component]:
    return components_of(load_parts())


def first_release(conn, comps: list[Component], at: dict[str, str] | None = None) -> None:
    """Every component's history from its base up to its first revision (or ``at[name]``), and some rows."""
    for comp in comps:
        upgrade_to(conn, comp, (at or {}).get(comp.name, comp.script.get_bases()[0]))
    conn.execute(text("INSERT INTO core_institutions (code, name, kind, version, created_at, updated_at) "
                      "VALUES ('UDSM', 'University of Dar es Salaam', 'other', 1, :t, :t)"), {"t": NOW})
    conn.execute(text("INSERT INTO dr_check_runs (at, started_at, finished_at, actor, role, status, "
                      "deadline_exceeded, systems) VALUES (:t, :t, :t, 'hd', 'helpdesk', 'OK', FALSE, 0), "
                      "(:t, :t, :t, 'op', 'operator', 'OK', FALSE, 0)"), {"t": NOW})
    conn.execute(text("UPDATE ussd_codes SET state = 'assigned', institution = 'UDSM', version = 2 WHERE id = 42"))


def kept_rows(engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM core_institutions")).scalars().all() == ["University of Dar es Salaam"]
        assert dict(conn.execute(text("SELECT role, verified FROM dr_check_runs")).all()) == {
            "helpdesk": False, "operator": True}
        assert conn.execute(text("SELECT count(*) FROM ussd_codes")).scalar() == 100
        assert conn.execute(text("SELECT state, institution FROM ussd_codes WHERE id = 42")).one() == ("assigned", "UDSM")
        assert conn.execute(text("SELECT institution FROM ussd_codes WHERE id = 0")).scalar() == "EGA"


def schema_of(engine, comps: list[Component]) -> dict:
    """Everything reflection sees of the components' tables (sorted, comparable)."""
    insp = inspect(engine)
    out = {}
    for name in sorted(set().union(*(c.table_names() for c in comps))):
        out[name] = {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(name)),
            "pk": insp.get_pk_constraint(name)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(name)),
            "uniques": sorted((u["name"] or "", tuple(u["column_names"])) for u in insp.get_unique_constraints(name)),
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
                           str(f.get("options"))) for f in insp.get_foreign_keys(name)),
            "checks": sorted((c["name"] or "", c["sqltext"]) for c in insp.get_check_constraints(name)),
        }
    return out


def user_tables(engine) -> set[str]:
    return {t for t in inspect(engine).get_table_names() if not t.startswith("alembic_version_")}


def test_history_from_the_first_release_equals_a_fresh_database(new_database, engines):
    comps = components()
    assert {c.name for c in comps} == {"core", "dr", "esb", "govnet", "mail", "sms", "ussd"}
    assert all(c.script is not None for c in comps)

    fresh_url = new_database()
    create_app(fresh_url).state.backend.engine.dispose()  # a fresh database: created from the models, stamped
    fresh = engines(fresh_url)
    with fresh.connect() as conn:
        assert differences(conn, comps) == []  # the comparison itself is quiet on the models' own schema

    upgraded = engines(new_database())
    with upgraded.begin() as conn:
        first_release(conn, comps)
    with upgraded.begin() as conn:
        for comp in comps:
            upgrade_to(conn, comp)
    with upgraded.connect() as conn:
        assert differences(conn, comps) == []
    assert user_tables(upgraded) == user_tables(fresh) == set().union(*(c.table_names() for c in comps))
    assert schema_of(upgraded, comps) == schema_of(fresh, comps)
    kept_rows(upgraded)
    with upgraded.connect() as conn, fresh.connect() as conn2:
        for comp in comps:
            version = text(f"SELECT version_num FROM {comp.version_table}")
            assert conn.execute(version).scalar() == conn2.execute(version).scalar() == comp.head


@pytest.mark.parametrize("plugin", ["dr", "govnet", "mail", "sms", "ussd"])
def test_each_plugins_history_alone_builds_its_models(new_database, plugin):
    """The check a plugin keeps in its own tests (the SDK's ``history_differences``), made for each
    built-in plugin: its history alone, from its base, on the core's, builds what its models declare
    (no plugin's history leans on another's tables)."""
    part = load_parts([plugin])[plugin]
    assert history_differences(part, new_database()) == []


def test_a_model_changed_without_a_revision_is_caught(tmp_path, engines):
    """The comparison fails when the models and the histories disagree, either way round."""
    comps = components()
    engine = engines(f"sqlite:///{tmp_path / 'upgraded.db'}")
    with engine.begin() as conn:
        for comp in comps:
            upgrade_to(conn, comp)

    # A model gains a column and an index, and no revision says so.
    from sqlalchemy import MetaData

    changed = MetaData()
    for comp in comps:
        for table in comp.tables:
            if table.name not in changed.tables:
                table.to_metadata(changed)
    batches = changed.tables["sms_batches"]
    batches.append_column(Column("campaign", String(40), nullable=True))
    Index("ix_sms_batches_campaign", batches.c.campaign)
    edited = [Component(c.name, [changed.tables[t.name] for t in c.tables], c.history) for c in comps]
    with engine.connect() as conn:
        found = differences(conn, edited)
    assert ("add_column", "sms_batches", "campaign") in [(d[0], d[2], d[3].name) for d in found
                                                         if isinstance(d, tuple) and d[0] == "add_column"]
    assert any(isinstance(d, tuple) and d[0] == "add_index" and d[1].name == "ix_sms_batches_campaign" for d in found)

    # A history that misses revisions (sms without its 0002 and what follows) against the models as they are.
    history = tmp_path / "sms-history"
    shutil.copytree(comps[[c.name for c in comps].index("sms")].script.dir, history,
                    ignore=lambda _dir, names: [n for n in names if n == "__pycache__" or n[:4].isdigit() and n[:4] > "0001"])
    other = engines(f"sqlite:///{tmp_path / 'short.db'}")
    sms = next(c for c in comps if c.name == "sms")
    short = [c if c.name != "sms" else Component("sms", sms.tables, history) for c in comps]
    with other.begin() as conn:
        for comp in short:
            upgrade_to(conn, comp)
    with other.connect() as conn:
        found = differences(conn, comps)
    assert any(isinstance(d, tuple) and d[0] == "add_table" and d[1].name == "sms_send_guards" for d in found)
    assert {d[3].name for d in found if isinstance(d, tuple) and d[0] == "add_column"} == {"cancelled_at",
                                                                                           "cancelled_by"}


def egactl(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egactl", *args], env=env or dict(os.environ), capture_output=True,
                          text=True, timeout=300)


def test_previous_release_is_refused_by_serve_and_adopted_by_migrate(new_database, engines):
    """A database of the release before Alembic: each component's version number in core_schema_versions."""
    comps = components()
    url = new_database()
    engine = engines(url)
    with engine.begin() as conn:
        first_release(conn, comps, at={"sms": "0002"})  # sms was already at its version 2
        for comp in comps:
            conn.execute(text(f"DROP TABLE {comp.version_table}"))
        conn.execute(text("CREATE TABLE core_schema_versions (component VARCHAR(64) PRIMARY KEY, "
                          "version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"))
        for comp in comps:
            conn.execute(text("INSERT INTO core_schema_versions VALUES (:c, :v, :t)"),
                         {"c": comp.name, "v": 2 if comp.name == "sms" else 1, "t": NOW})

    heads = {c.name: c.head for c in comps}
    # each history's revisions after the one the old release had (revision numbers may leave gaps)
    to_apply = {c.name: len(list(c.script.iterate_revisions(c.head, "0002" if c.name == "sms" else "0001")))
                for c in comps if c.script is not None}
    pending = ", ".join(f"{name}: {n} revision{'s' if n != 1 else ''}" for name, n in sorted(to_apply.items()) if n)
    r = egactl("serve", "tokens", "create", "--role", "admin", "--database-url", url)
    assert r.returncode == 5, r.stderr
    assert r.stderr.splitlines() == [
        f"error: the database schema is older than this egactl ({pending} to apply); "
        "run `egactl serve migrate` with the same --database-url first"]
    assert not {t for t in inspect(engine).get_table_names() if t.startswith("alembic_version_")}

    r = egactl("serve", "migrate", "--dry-run", "--database-url", url, "-o", "json")
    assert r.returncode == 0, r.stderr
    plan = {p["component"]: p for p in json.loads(r.stdout)}
    assert (plan["dr"]["action"], plan["dr"]["from"], plan["dr"]["to"]) == ("adopt and upgrade", "0001", heads["dr"])
    assert plan["dr"]["revisions"][0] == ("0002: Help-desk checks are unverified observations: observed_* on systems, "
                                          "verified on check runs (the help desk's earlier runs become unverified).")
    assert len(plan["dr"]["revisions"]) == int(heads["dr"]) - 1
    assert (plan["sms"]["action"], plan["sms"]["from"], plan["sms"]["to"]) == ("adopt and upgrade", "0002", heads["sms"])
    assert (plan["core"]["action"], plan["core"]["from"], plan["core"]["to"]) == ("adopt and upgrade", "0001", heads["core"])
    assert not {t for t in inspect(engine).get_table_names() if t.startswith("alembic_version_")}  # dry run

    r = egactl("serve", "migrate", "--database-url", url, "-o", "json")
    assert r.returncode == 0, r.stderr
    done = {p["component"]: (p["action"], p["to"]) for p in json.loads(r.stdout)}
    assert done == {name: ("adopted and upgraded" if to_apply[name] else "adopted", heads[name]) for name in heads}
    with engine.connect() as conn:
        assert differences(conn, comps) == []
    kept_rows(engine)

    r = egactl("serve", "migrate", "--database-url", url, "-o", "json")
    assert r.returncode == 0, r.stderr
    assert {p["action"] for p in json.loads(r.stdout)} == {"none"}
    r = egactl("serve", "tokens", "create", "--role", "admin", "--database-url", url, "-o", "json")
    assert r.returncode == 0, r.stderr


ESB_INIT = '''\
"""GovESB: the government enterprise service bus (a test plugin)."""
from egactl.plugin import Plugin

plugin = Plugin(name="esb", commands="egactl_esb.commands:app", backend="egactl_esb.server:part")
'''

ESB_SERVER = '''\
from fastapi import APIRouter
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from egactl.plugin import BackendPart
from egactl.plugin.server import ApiRoute, Base, unversioned


@unversioned("a test table")
class Envelope(Base):
    __tablename__ = "esb_envelopes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(80))
{extra}

router = APIRouter(route_class=ApiRoute)
part = BackendPart(router=router, tables=[Envelope.__table__], migrations="egactl_esb.server.migrations")
'''

ESB_REVISION = '''\
"""{doc}"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down}


def upgrade():
    {body}
'''


def write_esb(site: Path, release: int) -> None:
    pkg = site / "egactl_esb"
    (pkg / "server" / "migrations").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(ESB_INIT)
    (pkg / "commands.py").write_text("import typer\napp = typer.Typer(help='GovESB.')\n")
    extra = "    signature: Mapped[str | None] = mapped_column(String(200), nullable=True)\n" if release == 2 else ""
    (pkg / "server" / "__init__.py").write_text(ESB_SERVER.format(extra=extra))
    (pkg / "server" / "migrations" / "__init__.py").write_text("")
    (pkg / "server" / "migrations" / "a1_envelopes.py").write_text(ESB_REVISION.format(
        doc="Envelopes.", rev="a1", down=None,
        body="op.create_table('esb_envelopes', sa.Column('id', sa.Integer(), primary_key=True), "
             "sa.Column('subject', sa.String(80), nullable=False))"))
    if release == 2:
        (pkg / "server" / "migrations" / "b2_signatures.py").write_text(ESB_REVISION.format(
            doc="Envelopes carry their signature.", rev="b2", down='"a1"',
            body="op.add_column('esb_envelopes', sa.Column('signature', sa.String(200), nullable=True))"))
    dist = site / "egactl_esb-0.1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: egactl-esb\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[egactl.plugins]\nesb = egactl_esb:plugin\n")


def test_a_third_party_plugin_brings_its_own_history(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    url = f"sqlite:///{tmp_path / 'esb.db'}"
    write_esb(site, release=1)
    r = egactl("serve", "tokens", "create", "--role", "admin", "--database-url", url, env=env)
    assert r.returncode == 0, r.stderr
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version_esb")).scalar() == "a1"
            conn.execute(text("INSERT INTO esb_envelopes (subject) VALUES ('payroll push')"))

        write_esb(site, release=2)  # the plugin's next release: a column, and its revision
        r = egactl("serve", "tokens", "create", "--role", "admin", "--database-url", url, env=env)
        assert r.returncode == 5 and "esb: 1 revision to apply" in r.stderr, r.stderr
        r = egactl("serve", "migrate", "--dry-run", "--database-url", url, "-o", "json", env=env)
        assert r.returncode == 0, r.stderr
        [esb] = [p for p in json.loads(r.stdout) if p["component"] == "esb"]
        assert esb == {"component": "esb", "action": "upgrade", "from": "a1", "to": "b2",
                       "revisions": ["b2: Envelopes carry their signature."]}
        r = egactl("serve", "migrate", "--database-url", url, env=env)
        assert r.returncode == 0, r.stderr
        assert "esb" in r.stdout and "upgraded" in r.stdout
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version_esb")).scalar() == "b2"
            assert conn.execute(text("SELECT subject, signature FROM esb_envelopes")).one() == ("payroll push", None)
            # Its own version table: the core's and the other plugins' histories are untouched.
            core_head = Component("core", [], "egactl.server.migrations").head
            assert conn.execute(text("SELECT version_num FROM alembic_version_core")).scalar() == core_head
    finally:
        engine.dispose()


def test_a_history_that_cannot_be_found_skips_the_plugin_and_fails_migrate(tmp_path):
    """A declared history that is not there: the plugin is left out with one warning; `serve migrate` exits 6."""
    site = tmp_path / "site"
    write_esb(site, release=1)
    server = site / "egactl_esb" / "server" / "__init__.py"
    server.write_text(server.read_text().replace('"egactl_esb.server.migrations"', '"egactl_esb.server.history"'))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    url = f"sqlite:///{tmp_path / 'esb.db'}"
    r = egactl("serve", "migrate", "--database-url", url, env=env)
    assert r.returncode == 6, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == ("warning: plugin 'esb' skipped: its backend failed (RuntimeError: migrations: "
                        "egactl_esb.server.history is not a package (a directory with an __init__.py and the "
                        "revision scripts)); `egactl plugins list` shows it")
    assert lines[-1] == ("error: 1 of 7 components not migrated (esb), left as they were; "
                         "the warnings above say why")
    assert "ussd" in r.stdout  # the others were created
    engine = create_engine(url)
    try:
        assert "esb_envelopes" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_serve_migrate_on_an_unreachable_database_is_exit_7_without_its_password(tmp_path):
    r = egactl("serve", "migrate", "--database-url", "postgresql://nobody:s3cret@127.0.0.1:9/nothing")
    assert r.returncode == 7, r.stderr
    [line] = r.stderr.splitlines()
    assert line.startswith("error: cannot reach the database postgresql://nobody:***@127.0.0.1:9/nothing: ")
    assert "s3cret" not in r.stderr + r.stdout


def test_serve_migrate_refuses_a_bad_database_url_with_exit_2(tmp_path):
    r = egactl("serve", "migrate", "--database-url", "nosuchdb://x")
    assert r.returncode == 2, r.stderr
    [line] = r.stderr.splitlines()
    assert line.startswith("error: --database-url: ")


def test_a_current_sandbox_starts_without_importing_alembic(tmp_path):
    """Every sandbox command starts the backend: on a current database that is a plain read of the
    version tables, without Alembic's import (a tenth of a second of CPU per command)."""
    env = dict(os.environ, EGACTL_DATA_DIR=str(tmp_path / "data"), EGACTL_CONFIG_DIR=str(tmp_path / "config"))

    def imported() -> set[str]:
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "egactl", "institutions", "list", "-o", "json"],
                           env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)
        return {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}

    assert "alembic.runtime.migration" in imported()  # a new sandbox: created and stamped through Alembic
    assert {m for m in imported() if m.split(".")[0] == "alembic"} == set()
