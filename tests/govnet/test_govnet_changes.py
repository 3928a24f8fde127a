"""Changing and removing sites and pools: `govnet sites update|delete`, `govnet pools update|delete`.

Through the real commands and the real backend: what is stored, who may, what is refused
(and that a refusal stores nothing), that --dry-run is judged by the backend and changes
nothing, and that a change made meanwhile (a stale ETag) is exit 5.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_govnet import client
from egactl_govnet.server.models import Allocation, FreeBlock, FreeVlans, Onboarding, Pool, PoolVlans, Site

SITE = "RITA/dodoma-hq"


def pool(cli, name="dodoma-1", cidr="10.20.0.0/16", vlans="DODOMA=100-899", region="Dodoma"):
    r = cli("govnet", "pools", "create", name, cidr, "--vlans", vlans, "--region", region)
    assert r.exit_code == 0, r.stderr


def site(cli, ref=SITE, *extra, role="admin"):
    r = cli("govnet", "sites", "create", ref, "--region", "Dodoma", "--district", "Dodoma CBD",
            "--contact-name", "Asha Mwinyi", "--contact-phone", "+255754000111", *extra, role=role)
    assert r.exit_code == 0, r.stderr


def steps(cli, ref, *names):
    args = {"onboard": ["onboard", "--site", ref, "--bandwidth", "20M"],
            "approve": ["approve", ref],
            "provision": ["provision", ref, "--provider", "TTCL", "--circuit-id", f"C-{ref}"],
            "activate": ["activate", ref, "--throughput", "20M", "--latency-ms", "5", "--loss-pct", "0"],
            "offboard": ["offboard", ref, "--yes"]}
    for name in names:
        r = cli("govnet", *args[name])
        assert r.exit_code == 0, (name, r.stderr)


def stored_site(backend, name="dodoma-hq"):
    with backend.read_sessions() as s:
        row = s.scalar(select(Site).where(Site.name == name))
        return None if row is None else {c: getattr(row, c) for c in (
            "region", "district", "address", "contact_name", "contact_phone", "contact_email", "version")}


def audits(backend, action, resource_type="govnet_site"):
    with backend.read_sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action,
                                                       AuditEntry.resource_type == resource_type)))


def changed_meanwhile(monkeypatch, backend, getter, change):
    """After the command has read the resource (and its ETag), someone else changes it."""
    original = getattr(client, getter)

    def read_then_someone_changes_it(*args, **kwargs):
        result = original(*args, **kwargs)
        with backend.write_sessions() as s:
            change(s)
            s.commit()
        return result

    monkeypatch.setattr(client, getter, read_then_someone_changes_it)


# -- sites update ---------------------------------------------------------------------


def test_site_update_stores_normalised_values_and_is_audited(cli, backend):
    site(cli)
    r = cli("govnet", "sites", "update", "dodoma-hq", "-i", "rita", "--region", "dar es salaam",
            "--district", "Kinondoni", "--contact-phone", "0754 123 456", "--contact-email", "noc@rita.go.tz",
            "--contact-name", "", "-o", "json")
    assert r.exit_code == 0, r.stderr
    data = r.json()
    assert data["region"] == "Dar es Salaam" and data["district"] == "Kinondoni"
    assert data["contact"] == {"name": None, "phone": "+255754123456", "email": "noc@rita.go.tz"}
    assert stored_site(backend) == {"region": "Dar es Salaam", "district": "Kinondoni", "address": None,
                                    "contact_name": None, "contact_phone": "+255754123456",
                                    "contact_email": "noc@rita.go.tz", "version": 2}
    [entry] = audits(backend, "update")
    assert entry.resource_id == SITE and entry.institution == "RITA"
    assert entry.before["district"] == "Dodoma CBD" and entry.after["district"] == "Kinondoni"
    assert entry.after["contact_name"] is None and "address" not in entry.after  # only what changed
    table = cli("govnet", "sites", "update", SITE, "--address", "Mtaa wa Jamatini")
    assert table.exit_code == 0 and "Updated site RITA/dodoma-hq" in table.stderr


@pytest.mark.parametrize("args, message", [
    (["--contact-phone", "+1234567890"], "--contact-phone: '+1234567890' is not a phone number"),
    (["--contact-email", "nobody"], "'nobody' is not an e-mail address"),
    (["--district", "Dodoma?\ninterface Gi0/0"], "--district"),
    (["--address", 'Jamatini "St"'], "--address"),
    (["--region", "Zanzibar"], "unknown region 'Zanzibar'"),
    ([], "nothing to change"),
])
def test_site_update_refuses_what_create_refuses_and_stores_nothing(cli, backend, args, message):
    site(cli)
    r = cli("govnet", "sites", "update", SITE, *args)
    assert r.exit_code == 2 and message in r.stderr, r.stderr
    assert stored_site(backend)["version"] == 1


@pytest.mark.parametrize("field, value, message", [
    ("contact_phone", "+1234567890", "is not a phone number"),
    ("district", "Dodoma\nline vty 0 4", "line break"),
    ("region", None, "region cannot be empty"),
])
def test_the_backend_checks_a_site_update_as_it_checks_a_create(cli, backend, field, value, message):
    """A caller that does not use egactl's command gets the same rules from the API (422, exit 2)."""
    site(cli)
    typed = "null" if value is None else value
    r = cli("api", "PATCH", f"/api/v1/govnet/sites/{SITE}", "-F" if value is None else "-f", f"{field}={typed}")
    assert r.exit_code == 2 and message in r.stderr, r.stderr
    assert stored_site(backend)["version"] == 1


def test_site_update_roles(cli, backend):
    site(cli)
    assert cli("govnet", "sites", "update", SITE, "--district", "Mjini", role="operator").exit_code == 0
    for role in ("operator_tra", "helpdesk"):
        r = cli("govnet", "sites", "update", SITE, "--district", "Elsewhere", role=role)
        assert r.exit_code == 4, (role, r.stderr)
    assert stored_site(backend)["district"] == "Mjini"
    assert cli("govnet", "sites", "update", "RITA/nowhere", "--district", "X").exit_code == 3


def test_site_update_dry_run_is_judged_by_the_backend_and_changes_nothing(cli, backend):
    site(cli)
    r = cli("govnet", "sites", "update", SITE, "--district", "Kinondoni", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["district"] == "Kinondoni"
    assert stored_site(backend)["district"] == "Dodoma CBD" and stored_site(backend)["version"] == 1
    assert audits(backend, "update") == []
    refused = cli("govnet", "sites", "update", SITE, "--district", "X", "--dry-run", role="operator_tra")
    assert refused.exit_code == 4


def test_site_update_on_a_stale_view_is_exit_5(cli, backend, monkeypatch):
    site(cli)

    def someone_else(s):
        s.scalar(select(Site)).address = "Moved meanwhile"

    changed_meanwhile(monkeypatch, backend, "get_site_with_etag", someone_else)
    r = cli("govnet", "sites", "update", SITE, "--district", "Kinondoni")
    assert r.exit_code == 5 and "changed since you read it" in r.stderr, r.stderr
    stored = stored_site(backend)
    assert stored["district"] == "Dodoma CBD" and stored["address"] == "Moved meanwhile"


# -- sites delete ---------------------------------------------------------------------


def test_site_delete_removes_it_and_is_audited(cli, backend):
    site(cli)
    assert cli("govnet", "sites", "delete", SITE).exit_code == 2  # a script must say --yes
    r = cli("govnet", "sites", "delete", SITE, "--yes")
    assert r.exit_code == 0 and "Deleted site RITA/dodoma-hq" in r.stderr, r.stderr
    assert stored_site(backend) is None
    [entry] = audits(backend, "delete")
    assert entry.resource_id == SITE and entry.before["district"] == "Dodoma CBD"
    assert cli("govnet", "sites", "show", SITE).exit_code == 3
    site(cli)  # the name is free again


@pytest.mark.parametrize("done, state", [(("onboard",), "requested"), (("onboard", "approve"), "approved"),
                                         (("onboard", "approve", "provision", "activate"), "active")])
def test_a_site_being_onboarded_or_in_service_is_not_deleted(cli, backend, done, state):
    pool(cli)
    site(cli)
    steps(cli, SITE, *done)
    r = cli("govnet", "sites", "delete", SITE, "--yes")
    assert r.exit_code == 5, r.stderr
    assert f"site RITA/dodoma-hq is {state} (request 1)" in r.stderr and "egactl govnet offboard RITA/dodoma-hq" in r.stderr
    assert stored_site(backend) is not None and audits(backend, "delete") == []


def test_a_site_whose_prefix_is_on_hold_is_kept_until_the_hold_ends(cli, backend, clock):
    pool(cli)
    site(cli)
    steps(cli, SITE, "onboard", "approve", "provision", "offboard")
    r = cli("govnet", "sites", "delete", SITE, "--yes")
    assert r.exit_code == 5 and "prefix 10.20.0.0/29 and VLAN 100 are held until" in r.stderr, r.stderr
    clock.advance(days=91)
    r = cli("govnet", "sites", "delete", SITE, "--yes")
    assert r.exit_code == 0, r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Site)) == 0
        assert s.scalar(select(func.count()).select_from(Onboarding)) == 0
        assert s.scalar(select(func.count()).select_from(Allocation)) == 0
    assert [e.action for e in audits(backend, "release")] == ["release"]
    pool_now = cli("govnet", "pools", "show", "dodoma-1", "-o", "json").json()
    assert pool_now["usage"]["used_addresses"] == 0 and pool_now["free_blocks"] == ["10.20.0.0/16"]


def test_a_site_offboarded_before_provisioning_can_be_deleted_with_its_closed_request(cli, backend):
    pool(cli)
    site(cli)
    steps(cli, SITE, "onboard", "offboard")
    assert cli("govnet", "sites", "delete", SITE, "--yes", role="operator").exit_code == 0
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Onboarding)) == 0


def test_site_delete_roles_dry_run_and_stale_view(cli, backend, monkeypatch):
    site(cli)
    for role in ("operator_tra", "helpdesk"):
        assert cli("govnet", "sites", "delete", SITE, "--yes", role=role).exit_code == 4
    dry = cli("govnet", "sites", "delete", SITE, "--dry-run")
    assert dry.exit_code == 0 and "dry run: would delete site RITA/dodoma-hq" in dry.stderr
    assert stored_site(backend) is not None and audits(backend, "delete") == []

    def someone_else(s):
        s.scalar(select(Site)).district = "Changed meanwhile"

    changed_meanwhile(monkeypatch, backend, "get_site_with_etag", someone_else)
    r = cli("govnet", "sites", "delete", SITE, "--yes")
    assert r.exit_code == 5 and "changed since you read it" in r.stderr
    assert stored_site(backend) is not None


def test_site_delete_dry_run_of_a_refused_delete_is_refused_too(cli, backend):
    pool(cli)
    site(cli)
    steps(cli, SITE, "onboard")
    r = cli("govnet", "sites", "delete", SITE, "--dry-run")
    assert r.exit_code == 5 and "is requested" in r.stderr


# -- pools update ---------------------------------------------------------------------


def vlan_rows(backend, pool_name="dodoma-1"):
    with backend.read_sessions() as s:
        pid = s.scalar(select(Pool.id).where(Pool.name == pool_name))
        ranges = {v.pop: (v.first, v.last) for v in s.scalars(select(PoolVlans).where(PoolVlans.pool_id == pid))}
        free = sorted((f.pop, f.first, f.last) for f in s.scalars(select(FreeVlans).where(FreeVlans.pool_id == pid)))
        return ranges, free


def test_pool_update_changes_what_it_is_asked_and_is_audited(cli, backend):
    pool(cli)
    r = cli("govnet", "pools", "update", "dodoma-1", "-d", "Dodoma region, phase 2", "--default-prefix-length", "28",
            "--vlans", "DODOMA=100-999", "--vlans", "singida=10-20", "-o", "json")
    assert r.exit_code == 0, r.stderr
    data = r.json()
    assert data["description"] == "Dodoma region, phase 2" and data["default_prefix_length"] == 28
    assert [(v["pop"], v["first"], v["last"]) for v in data["vlans"]] == [("DODOMA", 100, 999), ("SINGIDA", 10, 20)]
    assert vlan_rows(backend) == ({"DODOMA": (100, 999), "SINGIDA": (10, 20)},
                                  [("DODOMA", 100, 999), ("SINGIDA", 10, 20)])
    [entry] = audits(backend, "update", "govnet_pool")
    assert entry.before["default_prefix_length"] == 29 and entry.after["default_prefix_length"] == 28
    again = cli("govnet", "pools", "update", "dodoma-1", "--vlans", "SINGIDA=10-30")
    assert again.exit_code == 0 and "Updated pool dodoma-1" in again.stderr, again.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(Pool.version)) == 3  # a VLAN-only change still gives the pool a new ETag


def test_a_vlan_range_that_would_strand_vlans_in_use_is_refused(cli, backend):
    pool(cli)
    for name in ("a", "b"):
        site(cli, f"RITA/{name}")
        steps(cli, f"RITA/{name}", "onboard", "approve", "provision")  # VLANs 100 and 101
    r = cli("govnet", "pools", "update", "dodoma-1", "--vlans", "DODOMA=101-300")
    assert r.exit_code == 5, r.stderr
    assert "1 VLAN at DODOMA in use or on hold would fall outside 101-300 (100)" in r.stderr
    assert cli("govnet", "pools", "update", "dodoma-1", "--vlans", "DODOMA=200-300", "--dry-run").exit_code == 5
    assert vlan_rows(backend)[0] == {"DODOMA": (100, 899)}
    # Shrinking around the VLANs in use is fine; the free runs are rebuilt without them.
    assert cli("govnet", "pools", "update", "dodoma-1", "--vlans", "DODOMA=100-102").exit_code == 0
    assert vlan_rows(backend) == ({"DODOMA": (100, 102)}, [("DODOMA", 102, 102)])
    site(cli, "RITA/c")
    site(cli, "RITA/d")
    steps(cli, "RITA/c", "onboard", "approve", "provision")
    assert cli("govnet", "sites", "show", "RITA/c", "-o", "json").json()["onboarding"]["vlan"] == 102
    steps(cli, "RITA/d", "onboard", "approve")
    full = cli("govnet", "provision", "RITA/d", "--provider", "TTCL", "--circuit-id", "C-d")
    assert full.exit_code == 5 and "no free VLAN left at PoP DODOMA (100-102" in full.stderr


@pytest.mark.parametrize("args, message, code", [
    (["--vlans", "DODOMA=800-999"], "overlap pool dodoma-1's range 100-899", 2),
    (["--default-prefix-length", "12"], "larger than the pool 10.30.0.0/16", 2),
    (["--default-prefix-length", "31"], "outside /8–/30", 2),
    (["--vlans", "NOWHERE=1-9"], "--vlans", 2),
    (["--vlans", "DODOMA=10-5000"], "VLAN ids are 1–4094", 2),
    (["-d", "spare\nhostname x"], "--description", 2),
    ([], "nothing to change", 2),
])
def test_pool_update_refusals_store_nothing(cli, backend, args, message, code):
    pool(cli)
    pool(cli, "dar-1", "10.30.0.0/16", "DAR-ES-SALAAM=100-899", "Dar es Salaam")
    before = cli("govnet", "pools", "show", "dar-1", "-o", "json").json()
    r = cli("govnet", "pools", "update", "dar-1", *args)
    assert r.exit_code == code and message in r.stderr, r.stderr
    assert cli("govnet", "pools", "show", "dar-1", "-o", "json").json() == before


def test_the_backend_checks_a_pool_overlap_on_update(cli, backend):
    pool(cli)
    pool(cli, "dar-1", "10.30.0.0/16", "DAR-ES-SALAAM=100-899", "Dar es Salaam")
    r = cli("api", "PATCH", "/api/v1/govnet/pools/dar-1", "--input", "-",
            input='{"vlans": [{"pop": "DODOMA", "first": 800, "last": 900}]}')
    assert r.exit_code == 2 and "overlap pool dodoma-1" in r.stderr


def test_pool_update_roles_dry_run_and_stale_view(cli, backend, monkeypatch):
    pool(cli)
    for role in ("operator", "helpdesk"):
        assert cli("govnet", "pools", "update", "dodoma-1", "-d", "x", role=role).exit_code == 4
    dry = cli("govnet", "pools", "update", "dodoma-1", "--vlans", "DODOMA=100-199", "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    assert dry.json()["vlans"][0]["last"] == 199
    assert vlan_rows(backend)[0] == {"DODOMA": (100, 899)} and audits(backend, "update", "govnet_pool") == []

    def someone_else(s):
        s.scalar(select(Pool)).description = "changed meanwhile"

    changed_meanwhile(monkeypatch, backend, "get_pool_with_etag", someone_else)
    r = cli("govnet", "pools", "update", "dodoma-1", "--default-prefix-length", "28")
    assert r.exit_code == 5 and "changed since you read it" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(Pool.default_prefix_length)) == 29


# -- pools delete ---------------------------------------------------------------------


def test_an_unused_pool_is_deleted_with_its_free_lists(cli, backend):
    pool(cli)
    assert cli("govnet", "pools", "delete", "dodoma-1").exit_code == 2  # a script must say --yes
    r = cli("govnet", "pools", "delete", "dodoma-1", "--yes")
    assert r.exit_code == 0 and "Deleted pool dodoma-1 (10.20.0.0/16)" in r.stderr, r.stderr
    with backend.read_sessions() as s:
        for table in (Pool, PoolVlans, FreeBlock, FreeVlans):
            assert s.scalar(select(func.count()).select_from(table)) == 0, table
    [entry] = audits(backend, "delete", "govnet_pool")
    assert entry.resource_id == "dodoma-1" and entry.before["cidr"] == "10.20.0.0/16"
    pool(cli)  # the range is free again


def test_a_pool_with_prefixes_allocated_or_requests_is_not_deleted(cli, backend, clock):
    pool(cli)
    for name in ("a", "b", "c"):
        site(cli, f"RITA/{name}")
    steps(cli, "RITA/a", "onboard", "approve", "provision")
    steps(cli, "RITA/b", "onboard", "approve", "provision", "offboard")
    steps(cli, "RITA/c", "onboard")
    r = cli("govnet", "pools", "delete", "dodoma-1", "--yes")
    assert r.exit_code == 5 and "still has 2 prefixes allocated from it (1 in use, 1 on hold)" in r.stderr, r.stderr
    assert cli("govnet", "pools", "delete", "dodoma-1", "--dry-run").exit_code == 5
    steps(cli, "RITA/a", "offboard")
    clock.advance(days=91)
    r = cli("govnet", "pools", "delete", "dodoma-1", "--yes")
    assert r.exit_code == 5 and "1 open onboarding request draw from pool dodoma-1" in r.stderr, r.stderr
    steps(cli, "RITA/c", "offboard")
    r = cli("govnet", "pools", "delete", "dodoma-1", "--yes")
    assert r.exit_code == 5 and "named by 3 past onboarding requests" in r.stderr, r.stderr
    for name in ("a", "b", "c"):
        assert cli("govnet", "sites", "delete", f"RITA/{name}", "--yes").exit_code == 0
    assert cli("govnet", "pools", "delete", "dodoma-1", "--yes").exit_code == 0
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Pool)) == 0


def test_pool_delete_roles_dry_run_and_stale_view(cli, backend, monkeypatch):
    pool(cli)
    for role in ("operator", "helpdesk"):
        assert cli("govnet", "pools", "delete", "dodoma-1", "--yes", role=role).exit_code == 4
    dry = cli("govnet", "pools", "delete", "dodoma-1", "--dry-run")
    assert dry.exit_code == 0 and "dry run: would delete pool dodoma-1" in dry.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Pool)) == 1
    assert audits(backend, "delete", "govnet_pool") == []
    assert cli("govnet", "pools", "delete", "nowhere", "--yes").exit_code == 3

    def someone_else(s):
        s.scalar(select(Pool)).description = "changed meanwhile"

    changed_meanwhile(monkeypatch, backend, "get_pool_with_etag", someone_else)
    r = cli("govnet", "pools", "delete", "dodoma-1", "--yes")
    assert r.exit_code == 5 and "changed since you read it" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Pool)) == 1
