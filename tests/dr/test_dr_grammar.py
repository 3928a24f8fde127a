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


def test_short_flags_mean_what_they_mean_across_the_tool(cli):
    """-s is --state everywhere, -S --search: dr check's --system has no short flag now,
    and systems list's search is -S; the old -s keeps working for a release, with a notice."""
    from egactl.cli import command

    root = command()
    ctx = root.make_context("egactl", [], resilient_parsing=True)
    dr = root.get_command(ctx, "dr")
    dr_ctx = dr.make_context("dr", [], parent=ctx, resilient_parsing=True)
    check = dr.get_command(dr_ctx, "check")
    systems = dr.get_command(dr_ctx, "systems")
    list_ = systems.get_command(systems.make_context("systems", [], parent=dr_ctx, resilient_parsing=True), "list")
    opts = {p.name: p.opts for p in check.params}
    assert opts["system"] == ["--system"]
    assert {p.name: p.opts for p in list_.params}["search"] == ["--search", "-S"]
    assert "-s" not in cli("dr", "check", "--help").stdout.replace("--s", "")
    assert "-S, --search" in cli("dr", "systems", "list", "--help").stdout


def test_old_short_flags_still_work_with_a_notice(cli):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    cli("dr", "systems", "create", "TRA/idras", *ADD)
    r = cli("dr", "systems", "list", "-s", "idr", "-o", "csv")
    assert r.exit_code == 0, r.stderr
    assert [line.split(",")[0] for line in r.stdout.splitlines()[1:]] == ["TRA/idras"]
    assert "`egactl dr systems list -s` is now `--search`" in r.stderr
    assert [s["system"] for s in cli("dr", "systems", "list", "-S", "crv", "-o", "json").json()] == ["RITA/crvs"]
    r = cli("dr", "check", "-s", "RITA/crvs", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "`egactl dr check -s` is now `--system`" in r.stderr
    assert "RITA/crvs" in r.stdout and "TRA/idras" not in r.stdout


def test_creating_again_exactly_as_asked_is_exists_and_other_values_a_conflict(cli, backend):
    from egactl.server.models import AuditEntry

    def audits():
        with backend.read_sessions() as s:
            return len(s.scalars(select(AuditEntry).where(AuditEntry.resource_type == "dr_system")).all())

    full = (*ADD, "--dr", "https://crvs-dr.rita.go.tz/health", "--dr-hosting", "gdc-dar", "--threshold",
            "cert_warn_days=45", "--notes", "runbook: wiki/crvs")
    assert cli("dr", "systems", "create", "RITA/crvs", *full).exit_code == 0
    assert audits() == 1
    # The same again, spelled differently where the rules normalise (case, 4h as 240 min): exists.
    again = cli("dr", "systems", "create", "rita/crvs", *full[:-2], "--notes", "runbook: wiki/crvs", "--rto", "240m")
    assert again.exit_code == 0, again.stderr
    assert "exists: already there exactly as asked; nothing changed" in again.stderr
    assert "RITA/crvs" in again.stdout
    assert again.stderr.count("Created") == 0 and audits() == 1
    as_json = cli("dr", "systems", "create", "RITA/crvs", *full, "-o", "json")
    assert as_json.exit_code == 0 and as_json.json()["version"] == 1
    # An option left out asks for nothing: the same create with fewer options is still "exists".
    fewer = cli("dr", "systems", "create", "RITA/crvs", *ADD)
    assert fewer.exit_code == 0 and "exists" in fewer.stderr
    # Other values: exit 5, naming what differs, and nothing changed.
    other = cli("dr", "systems", "create", "RITA/crvs", *ADD, "--dr", "https://crvs-dr.rita.go.tz/health",
                "--dr-hosting", "gdc-dodoma", "--threshold", "cert_warn_days=45")
    assert other.exit_code == 5
    assert ("DR system RITA/crvs already exists with other values for dr_hosting "
            "(dr_hosting: is 'gdc-dar' there, not 'gdc-dodoma')") in other.stderr
    assert "egactl dr systems update RITA/crvs" in other.stderr
    with backend.read_sessions() as s:
        row = s.scalar(select(DrSystem).where(DrSystem.name == "crvs"))
        assert (row.dr_hosting, row.notes, row.version) == ("gdc-dar", "runbook: wiki/crvs", 1)
    assert audits() == 1


def test_check_all_is_every_system_even_with_a_profile_institution(cli):
    """The profile's institution narrows `dr check` without selectors (the core's -i rule),
    but --all means every system you can see; -i given with it still narrows."""
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    cli("dr", "systems", "create", "TRA/idras", *ADD)
    assert cli("config", "set", "institution", "RITA").exit_code == 0
    narrowed = cli("dr", "check", "--dry-run")
    assert narrowed.exit_code == 0 and "RITA/crvs" in narrowed.stdout and "TRA/idras" not in narrowed.stdout
    every = cli("dr", "check", "--all", "--dry-run")
    assert every.exit_code == 0, every.stderr
    assert "RITA/crvs" in every.stdout and "TRA/idras" in every.stdout
    only = cli("dr", "check", "--all", "-i", "TRA", "--dry-run")
    assert "TRA/idras" in only.stdout and "RITA/crvs" not in only.stdout
