"""dr in the one grammar (issue 12): the verbs and flags it is spelled with now, and the
old spellings that keep working for a release, each with a notice on stderr."""

from __future__ import annotations

from sqlalchemy import select

from egactl_dr.server.models import DrDrill, DrSystem

ADD = ("--hosting", "gdc-dodoma", "--primary", "https://crvs.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")


def systems(backend):
    with backend.read_sessions() as s:
        return sorted(f"{r.institution}/{r.name}" for r in s.scalars(select(DrSystem)))


def drills(backend):
    with backend.read_sessions() as s:
        return [(d.system_name, d.result) for d in s.scalars(select(DrDrill).order_by(DrDrill.id))]


def test_systems_are_created_and_deleted(cli, backend):
    r = cli("dr", "systems", "create", "RITA/crvs", *ADD)
    assert r.exit_code == 0, r.stderr
    assert "Created DR system RITA/crvs" in r.stderr and "is now" not in r.stderr
    assert systems(backend) == ["RITA/crvs"]
    r = cli("dr", "systems", "delete", "RITA/crvs", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "Deleted DR system RITA/crvs" in r.stderr
    assert systems(backend) == []


def test_old_systems_add_and_remove_still_work_and_say_the_new_name(cli, backend):
    r = cli("dr", "systems", "add", "RITA/crvs", *ADD)
    assert r.exit_code == 0, r.stderr
    assert "`egactl dr systems add` is now `egactl dr systems create`" in r.stderr
    assert systems(backend) == ["RITA/crvs"]
    r = cli("dr", "systems", "remove", "RITA/crvs", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "`egactl dr systems remove` is now `egactl dr systems delete`" in r.stderr
    assert systems(backend) == []


def test_old_names_are_in_no_help(cli):
    help_ = cli("dr", "systems", "--help").stdout
    assert "create" in help_ and "delete" in help_
    assert " add " not in help_ and " remove " not in help_
    top = cli("dr", "--help").stdout
    assert "drills" in top and "drill " not in top


def test_drills_is_one_group_start_finish_list(cli, backend):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    r = cli("dr", "drills", "start", "RITA/crvs")
    assert r.exit_code == 0, r.stderr
    assert "run `egactl dr drills finish RITA/crvs`" in r.stderr
    r = cli("dr", "drills", "finish", "RITA/crvs", "--data-loss", "0")
    assert r.exit_code == 0, r.stderr
    assert drills(backend) == [("crvs", "passed")]
    listed = cli("dr", "drills", "list", "-o", "json")
    assert [d["result"] for d in listed.json()] == ["passed"]


def test_old_drill_group_still_works_and_says_the_new_name(cli, backend):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    r = cli("dr", "drill", "start", "RITA/crvs")
    assert r.exit_code == 0, r.stderr
    assert "`egactl dr drill` is now `egactl dr drills`" in r.stderr
    r = cli("dr", "drill", "finish", "RITA/crvs", "--data-loss", "0")
    assert r.exit_code == 0, r.stderr
    assert drills(backend) == [("crvs", "passed")]


def test_old_names_leave_json_stderr_clean(cli):
    r = cli("dr", "systems", "add", "RITA/crvs", *ADD, "-o", "json")
    assert r.exit_code == 0 and r.json()["system"] == "RITA/crvs"
    assert "is now" not in r.stderr
