"""dr systems: the inventory through the commands and the real backend — what a user
sees, what was stored, who may do what, and rules that fail before anything is sent."""

from __future__ import annotations

from sqlalchemy import select

from egactl.server.models import AuditEntry
from egactl_dr.server.models import DrSystem


def stored(backend, institution, name):
    with backend.read_sessions() as s:
        return s.scalar(select(DrSystem).where(DrSystem.institution == institution, DrSystem.name == name))


ADD = ("--hosting", "gdc-dodoma", "--primary", "https://crvs.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")


def test_add_stores_normalised_validated_record_and_audits(cli, backend):
    r = cli("dr", "systems", "create", "rita/CRVS", *ADD, "--dr", "HTTPS://CRVS-DR.rita.go.tz/health",
            "--dr-hosting", "GDC-Dar", "--criticality", "critical", "--version-from", "json:build.version",
            "--replicated-from", "header:X-Last-Replicated", "--threshold", "cert_warn_days=45", "-o", "json")
    assert r.exit_code == 0, r.stderr
    out = r.json()
    assert out["system"] == "RITA/crvs"
    assert out["dr_endpoint"] == "https://crvs-dr.rita.go.tz/health"
    assert out["hosting_approved"] is True and out["dr_hosting_approved"] is True  # case-insensitive
    assert (out["rpo_minutes"], out["rto_minutes"]) == (15, 240)
    assert out["thresholds"] == {"cert_warn_days": 45}
    row = stored(backend, "RITA", "crvs")
    assert row.criticality == "critical" and row.version_from == "json:build.version"
    with backend.read_sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.resource_type == "dr_system"))
    assert (entry.action, entry.resource_id, entry.institution) == ("create", "RITA/crvs", "RITA")


def test_bad_values_fail_fast_and_send_nothing(cli, backend):
    cases = [
        (("--primary", "ftp://x.go.tz"), "scheme must be https, http, tls or tcp"),
        (("--primary", "db.go.tz"), "needs a port"),
        (("--version-from", "xml:version"), "must be json:PATH"),
        (("--rpo", "soon"), "must look like 15m"),
        (("--threshold", "cert_crit_days=40"), "cert_crit_days must be below cert_warn_days"),
        (("--threshold", "nope=1"), "unknown threshold"),
        (("--criticality", "extreme"), "must be one of low, medium, high, critical"),
    ]
    for extra, message in cases:
        args = list(ADD)
        if extra[0] in args:
            i = args.index(extra[0])
            args[i + 1] = extra[1]
        else:
            args += list(extra)
        r = cli("dr", "systems", "create", "RITA/crvs", *args)
        assert r.exit_code == 2, (extra, r.stderr)
        assert message in r.stderr, (extra, r.stderr)
    assert stored(backend, "RITA", "crvs") is None


def test_backend_rules_hold_for_raw_api_callers(cli, backend):
    r = cli("api", "POST", "/api/v1/dr/systems", "-F", "institution=RITA", "-F", "name=crvs", "-F", "hosting=gdc-dodoma",
            "-F", "primary_endpoint=gopher://x", "-F", "rpo_minutes=15", "-F", "rto_minutes=240")
    assert r.exit_code == 2
    assert "scheme must be https, http, tls or tcp" in r.stderr and "Value error" not in r.stderr
    assert stored(backend, "RITA", "crvs") is None


def test_duplicate_is_a_conflict_and_unknown_institution_not_found(cli):
    assert cli("dr", "systems", "create", "RITA/crvs", *ADD).exit_code == 0
    again = cli("dr", "systems", "create", "RITA/crvs", *ADD, "--rpo", "20m")
    assert again.exit_code == 5 and "already exists" in again.stderr
    assert cli("dr", "systems", "create", "NOWHERE/crvs", *ADD).exit_code == 3


def test_bare_name_takes_the_institution_flag(cli):
    assert cli("dr", "systems", "create", "crvs", "-i", "RITA", *ADD).exit_code == 0
    r = cli("dr", "systems", "show", "crvs", "-i", "rita", "-o", "json")
    assert r.exit_code == 0 and r.json()["system"] == "RITA/crvs"
    r = cli("dr", "systems", "show", "crvs")
    assert r.exit_code == 2 and "INSTITUTION/NAME" in r.stderr


def test_a_system_reference_is_one_system_or_a_usage_error(cli, backend):
    """The institution part of INSTITUTION/NAME becomes a path segment: a '?', '#' or '..' in
    it must not turn the request into another one (the list, another path) that then answers."""
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    cli("dr", "systems", "create", "TRA/crvs", *ADD)
    for ref in ("TRA/crvs#/crvs", "RITA?institution=TRA/crvs", "../crvs", "RI TA/crvs"):
        for command in (("show", ref, "-o", "json"), ("delete", ref, "--yes"), ("update", ref, "--notes", "x"),
                        ("show", ref.rpartition("/")[2], "-i", ref.rpartition("/")[0])):
            r = cli("dr", "systems", *command)
            assert (r.exit_code, r.stdout) == (2, ""), (command, r.stdout, r.stderr)
            assert r.stderr.count("\n") == 1 and "institution code" in r.stderr, (command, r.stderr)
    assert stored(backend, "RITA", "crvs").notes is None and stored(backend, "TRA", "crvs") is not None


def test_update_merges_thresholds_clears_fields_and_is_guarded_by_etag(cli, backend):
    cli("dr", "systems", "create", "RITA/crvs", *ADD, "--dr", "https://dr.rita.go.tz/health", "--threshold",
        "cert_warn_days=45")
    r = cli("dr", "systems", "update", "RITA/crvs", "--threshold", "backup_crit_hours=72", "--clear", "dr_endpoint",
            "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["thresholds"] == {"cert_warn_days": 45, "backup_crit_hours": 72}
    assert r.json()["dr_endpoint"] is None and r.json()["version"] == 2
    r = cli("dr", "systems", "update", "RITA/crvs", "--threshold", "cert_warn_days=default", "-o", "json")
    assert r.json()["thresholds"] == {"backup_crit_hours": 72}
    stale = cli("api", "PATCH", "/api/v1/dr/systems/RITA/crvs", "-H", 'If-Match: "v1"', "-F", "criticality=low")
    assert stale.exit_code == 5
    assert stored(backend, "RITA", "crvs").criticality == "medium"
    nothing = cli("dr", "systems", "update", "RITA/crvs")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr


def test_dry_runs_change_nothing(cli, backend):
    r = cli("dr", "systems", "create", "RITA/crvs", *ADD, "--dry-run")
    assert r.exit_code == 0 and "dry run" in r.stderr
    assert stored(backend, "RITA", "crvs") is None
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    assert cli("dr", "systems", "update", "RITA/crvs", "--criticality", "high", "--dry-run").exit_code == 0
    assert cli("dr", "systems", "delete", "RITA/crvs", "--dry-run").exit_code == 0
    row = stored(backend, "RITA", "crvs")
    assert row is not None and row.criticality == "medium"


def test_remove_needs_yes_in_a_script_and_takes_history_along(cli, backend):
    cli("dr", "systems", "create", "RITA/crvs", *ADD)
    cli("dr", "drills", "start", "RITA/crvs")
    r = cli("dr", "systems", "delete", "RITA/crvs")
    assert r.exit_code == 2 and "--yes" in r.stderr
    r = cli("dr", "systems", "delete", "RITA/crvs", "--yes")
    assert r.exit_code == 0, r.stderr
    assert stored(backend, "RITA", "crvs") is None
    assert cli("dr", "drills", "list", "-o", "json").json() == []


def test_institution_with_systems_cannot_be_deleted(cli):
    cli("dr", "systems", "create", "UDOM/aris", *ADD)
    r = cli("institutions", "delete", "UDOM", "--yes")
    assert r.exit_code == 5 and r.stderr == "error: UDOM still holds 1 DR system; release them first\n"


def test_roles(cli, backend):
    assert cli("dr", "systems", "create", "RITA/crvs", *ADD, role="operator").exit_code == 0
    assert cli("dr", "systems", "create", "TRA/idras", *ADD, role="operator_tra").exit_code == 0
    denied = cli("dr", "systems", "create", "TRA/other", *ADD, role="operator")
    assert denied.exit_code == 4 and "may not change resources of institution TRA" in denied.stderr
    assert cli("dr", "systems", "update", "TRA/idras", "--criticality", "high", role="operator").exit_code == 4
    assert cli("dr", "systems", "show", "TRA/idras", role="operator").exit_code == 4
    mine = cli("dr", "systems", "list", "-o", "json", role="operator").json()
    assert [s["system"] for s in mine] == ["RITA/crvs"]
    # The help desk sees everything and changes nothing.
    assert len(cli("dr", "systems", "list", "-o", "json", role="helpdesk").json()) == 2
    for args in (("create", "EGA/x", *ADD), ("update", "RITA/crvs", "--criticality", "low"), ("delete", "RITA/crvs", "--yes")):
        r = cli("dr", "systems", *args, role="helpdesk")
        assert r.exit_code == 4 and "read-only" in r.stderr, args
    assert cli("dr", "drills", "start", "RITA/crvs", role="helpdesk").exit_code == 4
    assert stored(backend, "RITA", "crvs").criticality == "medium"


def test_ca_bundle_is_stored_as_pem_and_keys_are_refused(cli, backend, tmp_path):
    import trustme

    ca = trustme.CA()
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    key = tmp_path / "key.pem"
    ca.private_key_pem.write_to_path(str(key))
    bad = cli("dr", "systems", "create", "RITA/crvs", *ADD, "--ca-bundle", str(key))
    assert bad.exit_code == 2
    r = cli("dr", "systems", "create", "RITA/crvs", *ADD, "--ca-bundle", str(pem))
    assert r.exit_code == 0, r.stderr
    assert "BEGIN CERTIFICATE" in stored(backend, "RITA", "crvs").ca_bundle
    shown = cli("dr", "systems", "show", "RITA/crvs")
    assert "1 certificate(s)" in shown.stdout


def test_list_table_and_hosting_list(cli):
    cli("dr", "systems", "create", "MOH/dhis2", "--hosting", "moh-server-room", "--primary", "dhis2.moh.go.tz:443",
        "--rpo", "1d", "--rto", "2d")
    r = cli("dr", "systems", "list")
    assert r.exit_code == 0
    header, row = r.stdout.splitlines()[:2]
    assert header.split()[:3] == ["SYSTEM", "CRITICALITY", "HOSTING"]
    assert "MOH/dhis2" in row and "NOT APPROVED" in row and "none" in row and "never" in row
    hosting = cli("dr", "systems", "hosting", "-o", "json")
    assert {"environment": "gdc-dodoma"} in hosting.json()
    empty = cli("dr", "systems", "list", "-i", "EGA", "-o", "csv")
    assert empty.exit_code == 0 and empty.stdout.startswith("system,criticality")
