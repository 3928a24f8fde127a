"""egactl.plugin.testing, the SDK's pytest plugin, as a plugin author uses it:
activated by name in a conftest, driving real commands against the real backend;
and its history_differences, the check of a plugin's schema history against its models."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, text

from egactl.plugin import BackendPart
from egactl.plugin.testing import history_differences

ROOT = Path(__file__).resolve().parents[2]

AUTHOR_TESTS = '''
import pytest


@pytest.fixture
def egactl_plugins():
    return ["dr"]  # the core and one plugin, as a third-party plugin tests itself


ADD = ("--hosting", "gdc-dodoma", "--primary", "https://crvs.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")


def test_roles_and_the_real_backend(egactl_cli, egactl_backend):
    added = egactl_cli("dr", "systems", "add", "RITA/crvs", *ADD, role="operator")
    assert added.exit_code == 0, added.stderr
    assert egactl_cli("dr", "systems", "add", "TRA/idras", *ADD, role="operator").exit_code == 4
    assert egactl_cli("dr", "systems", "remove", "RITA/crvs", "--yes", role="helpdesk").exit_code == 4
    listed = egactl_cli("dr", "systems", "list", "-i", "TRA", role="operator_tra")
    assert listed.exit_code == 0 and "crvs" not in listed.stdout
    from sqlalchemy import text
    with egactl_backend.read_sessions() as session:
        assert session.execute(text("select institution, name from dr_systems where name = 'crvs'")).all() == [
            ("RITA", "crvs")]


def test_only_the_chosen_plugin_is_mounted(egactl_cli):
    r = egactl_cli("ussd", "codes", "list")
    assert r.exit_code != 0


def test_the_clock_moves_when_told(egactl_clock, egactl_backend):
    before = egactl_backend.now()
    egactl_clock.advance(days=91)
    assert (egactl_backend.now() - before).days == 91
'''


def test_a_plugin_author_tests_with_the_sdk_fixtures(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["egactl.plugin.testing"]\n')
    (tmp_path / "test_author.py").write_text(AUTHOR_TESTS)
    path = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "--rootdir",
                        str(tmp_path), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, PYTHONPATH=path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout


# -- history_differences: the check a plugin keeps for its schema history ---------------------------------

FIRST = '''"""The first release: the papers table."""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table("hist_papers", sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("title", sa.String(length=80), nullable=False), sa.PrimaryKeyConstraint("id"))
{extra}'''


def history(tmp_path, monkeypatch, *revisions: tuple[str, str]) -> str:
    """A package of revision scripts, importable: returns its dotted name."""
    package = f"hist_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "site" / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    for name, body in revisions:
        (folder / name).write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return package


def papers(*extra: Column) -> Table:
    return Table("hist_papers", MetaData(), Column("id", Integer, primary_key=True),
                 Column("title", String(80), nullable=False), *extra)


def part(package: str | None, table: Table) -> BackendPart:
    from fastapi import APIRouter

    return BackendPart(router=APIRouter(), tables=[table], migrations=package)


def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"


def test_history_differences_is_empty_when_the_history_builds_the_models(tmp_path, monkeypatch):
    package = history(tmp_path, monkeypatch, ("0001_first.py", FIRST.format(extra="")))
    assert history_differences(part(package, papers()), url(tmp_path)) == []


def test_history_differences_is_empty_for_a_builtin_plugin_whose_foreign_keys_point_at_the_core(tmp_path):
    from egactl_sms.server import part as sms  # two revisions, foreign keys to core_institutions

    database = url(tmp_path)
    assert history_differences(sms, database) == []
    engine = create_engine(database)
    try:  # what it built: the core's history at its head, then the plugin's, each in its own version table
        with engine.connect() as conn:
            from egactl.server.schema import Component

            heads = {name: Component(name, [], history).head
                     for name, history in (("core", "egactl.server.migrations"), ("sms", sms.migrations))}
            assert conn.execute(text("SELECT version_num FROM alembic_version_core")).scalar() == heads["core"]
            assert conn.execute(text("SELECT version_num FROM alembic_version_sms")).scalar() == heads["sms"]
    finally:
        engine.dispose()


def test_history_differences_names_a_column_a_model_gained_without_a_revision(tmp_path, monkeypatch):
    package = history(tmp_path, monkeypatch, ("0001_first.py", FIRST.format(extra="")))
    found = history_differences(part(package, papers(Column("owner", String(200), nullable=True))), url(tmp_path))
    assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "hist_papers", "owner")]


def test_history_differences_names_a_table_the_history_creates_and_no_model_declares(tmp_path, monkeypatch):
    stray = '    op.create_table("hist_drafts", sa.Column("id", sa.Integer(), primary_key=True))\n'
    package = history(tmp_path, monkeypatch, ("0001_first.py", FIRST.format(extra=stray)))
    found = history_differences(part(package, papers()), url(tmp_path))
    assert [(d[0], d[1].name) for d in found] == [("remove_table", "hist_drafts")]


def test_history_differences_names_what_a_later_revision_changed_and_the_model_did_not(tmp_path, monkeypatch):
    second = ('revision = "0002"\ndown_revision = "0001"\nimport sqlalchemy as sa\nfrom alembic import op\n\n\n'
              'def upgrade():\n    op.add_column("hist_papers", sa.Column("pages", sa.Integer(), nullable=True))\n')
    package = history(tmp_path, monkeypatch, ("0001_first.py", FIRST.format(extra="")), ("0002_pages.py", second))
    found = history_differences(part(package, papers()), url(tmp_path))
    assert [(d[0], d[2], d[3].name) for d in found] == [("remove_column", "hist_papers", "pages")]


def test_history_differences_refuses_a_part_without_a_history_and_a_database_not_empty(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"declares no schema history \(BackendPart\(migrations=...\)\)"):
        history_differences(part(None, papers()), url(tmp_path))
    package = history(tmp_path, monkeypatch, ("0001_first.py", FIRST.format(extra="")))
    database = url(tmp_path)
    assert history_differences(part(package, papers()), database) == []
    with pytest.raises(ValueError, match="needs an empty database; this one holds alembic_version_core, "):
        history_differences(part(package, papers()), database)


def test_history_differences_refuses_a_history_with_two_heads(tmp_path, monkeypatch):
    other = FIRST.format(extra="").replace('revision = "0001"', 'revision = "0001b"').replace("hist_papers", "x")
    package = history(tmp_path, monkeypatch, ("0001_first.py", FIRST.format(extra="")), ("0001_other.py", other))
    database = url(tmp_path)
    with pytest.raises(RuntimeError, match="must have exactly one head, not 2"):
        history_differences(part(package, papers()), database)
    engine = create_engine(database)
    try:
        assert inspect(engine).get_table_names() == []  # nothing built
    finally:
        engine.dispose()
