"""The onboarding workflow through the commands: every legal and illegal step, the hold, who may do what."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_govnet.rules import ONBOARDING
from egactl_govnet.server.models import Allocation, Onboarding, Site

# The workflow as the issue states it, written out here so that a wrong table in the code fails the test.
EXPECTED = {
    ("approve", "requested"): "approved",
    ("provision", "approved"): "provisioned",
    ("activate", "provisioned"): "active",
    ("suspend", "active"): "suspended",
    ("resume", "suspended"): "active",
    ("offboard", "requested"): "decommissioned",
    ("offboard", "approved"): "decommissioned",
    ("offboard", "provisioned"): "decommissioned",
    ("offboard", "active"): "decommissioned",
    ("offboard", "suspended"): "decommissioned",
}
STATES = ("requested", "approved", "provisioned", "active", "suspended", "decommissioned")
ACTIONS = ("approve", "provision", "activate", "suspend", "resume", "offboard")
# The steps that bring a new request to each state.
PATH = {"requested": [], "approved": ["approve"], "provisioned": ["approve", "provision"],
        "active": ["approve", "provision", "activate"], "suspended": ["approve", "provision", "activate", "suspend"],
        "decommissioned": ["offboard"]}


@pytest.fixture
def backend_settings():
    return {"govnet.hold_days": 30}


def args_for(action: str, site: str, n: int = 0) -> list[str]:
    extra = {"provision": ["--provider", "TTCL", "--circuit-id", f"TTCL-{site}-{n}"],
             "activate": ["--throughput", "19.8M", "--latency-ms", "14", "--loss-pct", "0.1"],
             "suspend": ["--reason", "unpaid circuit"], "offboard": ["--yes"]}.get(action, [])
    return ["govnet", action, site, *extra]


def pool(cli, name="dodoma-1", cidr="10.20.0.0/16", vlans="DODOMA=100-899", *extra):
    r = cli("govnet", "pools", "create", name, cidr, "--vlans", vlans, "--region", "Dodoma", *extra)
    assert r.exit_code == 0, r.stderr


def site(cli, name, institution="RITA", region="Dodoma", bandwidth="20M", *extra, role="admin"):
    r = cli("govnet", "sites", "create", f"{institution}/{name}", "--region", region, role=role)
    assert r.exit_code == 0, r.stderr
    r = cli("govnet", "onboard", "-i", institution, "--site", name, "--bandwidth", bandwidth, *extra, role=role)
    assert r.exit_code == 0, r.stderr
    return f"{institution}/{name}"


def drive(cli, ref, steps):
    for step in steps:
        r = cli(*args_for(step, ref))
        assert r.exit_code == 0, (step, r.stderr)


def state_of(backend, ref):
    institution, name = ref.split("/")
    with backend.read_sessions() as s:
        site_id = s.scalar(select(Site.id).where(Site.institution == institution, Site.name == name))
        return s.scalar(select(Onboarding.state).where(Onboarding.site_id == site_id).order_by(Onboarding.id.desc()))


def test_the_transition_table_is_the_documented_workflow():
    table = {(t.action, s): t.target for t in ONBOARDING.transitions for s in t.sources}
    assert table == EXPECTED
    assert ONBOARDING.states == STATES and ONBOARDING.actions == ACTIONS


def test_every_legal_and_illegal_step(cli, backend):
    pool(cli)
    # One site in each state; every step that is not in the table is refused with exit 5 and changes nothing.
    at = {}
    for i, state in enumerate(STATES):
        at[state] = site(cli, f"at-{i}")
        drive(cli, at[state], PATH[state])
        assert state_of(backend, at[state]) == state
    for state in STATES:
        for action in ACTIONS:
            if (action, state) in EXPECTED:
                continue
            r = cli(*args_for(action, at[state], 9))
            assert r.exit_code == 5, (action, state, r.stderr)
            assert f"cannot {action} a site that is {state}" in r.stderr
            assert state_of(backend, at[state]) == state
    # Every legal step, each from a site freshly brought to its starting state.
    for n, ((action, source), target) in enumerate(EXPECTED.items()):
        ref = site(cli, f"legal-{n}")
        drive(cli, ref, PATH[source])
        r = cli(*args_for(action, ref, n), "-o", "json")
        assert r.exit_code == 0, (action, source, r.stderr)
        assert r.json()["state"] == target and state_of(backend, ref) == target
    with backend.read_sessions() as s:
        steps = s.scalars(select(AuditEntry).where(AuditEntry.resource_type == "govnet_site",
                                                   AuditEntry.action.in_(ACTIONS))).all()
    assert steps and all(e.request_id for e in steps)


def test_provision_records_circuit_and_allocates_inside_the_pool(cli, backend):
    pool(cli)
    ref = site(cli, "dodoma-hq", "RITA", "Dodoma", "20M", "--prefix-length", "28")
    drive(cli, ref, ["approve"])
    r = cli("govnet", "provision", ref, "--provider", "ttcl", "--circuit-id", "DOM-0042", "--committed-rate", "25M",
            "-o", "json")
    assert r.exit_code == 0, r.stderr
    ob = r.json()
    assert ob["prefix"] == "10.20.0.0/28" and ob["vlan"] == 100 and ob["pop"] == "DODOMA"
    assert ob["circuit"] == {"provider": "TTCL", "circuit_id": "DOM-0042", "committed_rate": "25M", "committed_bps": 25_000_000}
    with backend.read_sessions() as s:
        alloc = s.scalar(select(Allocation))
        assert (alloc.start, alloc.length, alloc.vlan, alloc.hold_until) == (0x0A140000, 28, 100, None)
    # The same circuit cannot be recorded for a second open site.
    other = site(cli, "other")
    drive(cli, other, ["approve"])
    r = cli("govnet", "provision", other, "--provider", "TTCL", "--circuit-id", "DOM-0042")
    assert r.exit_code == 5 and "already recorded for site RITA/dodoma-hq" in r.stderr
    assert state_of(backend, other) == "approved"


def test_activation_needs_a_passing_link_test(cli, backend):
    pool(cli)
    ref = site(cli, "dodoma-hq")
    drive(cli, ref, ["approve", "provision"])
    r = cli("govnet", "activate", ref, "--throughput", "12M", "--latency-ms", "20", "--loss-pct", "3")
    assert r.exit_code == 5
    assert "link test failed: loss 3% is above 1%; throughput 12M is below 90% of the committed 20M" in r.stderr
    with backend.read_sessions() as s:
        ob = s.scalar(select(Onboarding))
        assert ob.state == "provisioned" and ob.link_test is None
    r = cli("govnet", "activate", ref, "--throughput", "19.5M", "--latency-ms", "20", "--loss-pct", "0", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["link_test"]["throughput_bps"] == 19_500_000


def test_offboard_holds_resources_until_the_hold_ends(cli, backend, clock):
    pool(cli, "tiny", "192.168.60.0/29", "DODOMA=10-11", "--default-prefix-length", "30")
    a, b, c = (site(cli, n) for n in ("a", "b", "c"))
    drive(cli, a, ["approve", "provision", "activate"])
    drive(cli, b, ["approve", "provision"])
    drive(cli, c, ["approve"])
    full = cli("govnet", "provision", c, "--provider", "TTCL", "--circuit-id", "C")
    assert full.exit_code == 5 and "pool tiny (192.168.60.0/29) is full: no free /30 left" in full.stderr

    r = cli("govnet", "offboard", a, "--yes", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["resources"] == "held" and r.json()["hold_until"].startswith("2026-12-22")
    clock.advance(days=29, hours=23)
    held = cli("govnet", "provision", c, "--provider", "TTCL", "--circuit-id", "C")
    assert held.exit_code == 5 and "is full" in held.stderr
    assert cli("govnet", "pools", "show", "tiny", "-o", "json").json()["usage"]["capacity"] == 0

    clock.advance(hours=1)
    assert cli("govnet", "pools", "show", "tiny", "-o", "json").json()["usage"]["capacity"] == 1
    r = cli("govnet", "provision", c, "--provider", "TTCL", "--circuit-id", "C", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert (r.json()["prefix"], r.json()["vlan"]) == ("192.168.60.0/30", 10)  # a's prefix and VLAN, reused only now
    shown = cli("govnet", "sites", "show", a, "-o", "json").json()
    assert shown["state"] == "decommissioned" and shown["onboarding"]["resources"] == "released"
    with backend.read_sessions() as s:
        release = s.scalar(select(AuditEntry).where(AuditEntry.action == "release"))
        assert release.resource_id == a and "hold period ended" in release.reason
        assert s.scalar(select(func.count()).select_from(Allocation)) == 2


def test_hold_worker_returns_resources_without_a_new_provision(cli, backend, clock):
    pool(cli)
    ref = site(cli, "dodoma-hq")
    drive(cli, ref, ["approve", "provision", "offboard"])
    from egactl_govnet.server.workers import release_holds

    assert release_holds(backend) == 0
    clock.advance(days=31)
    assert release_holds(backend) == 1
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Allocation)) == 0
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "release"))
        assert entry.actor == "system" and entry.resource_id == ref
    usage = cli("govnet", "pools", "show", "dodoma-1", "-o", "json").json()["usage"]
    assert usage["used_addresses"] == 0 and usage["free_blocks"] == 1


def test_offboarding_before_provisioning_holds_nothing(cli, backend):
    pool(cli)
    ref = site(cli, "dodoma-hq")
    r = cli("govnet", "offboard", ref, "--yes", "-o", "json")
    assert r.exit_code == 0 and r.json()["resources"] is None and r.json()["hold_until"] is None
    # A decommissioned site may be onboarded again.
    r = cli("govnet", "onboard", "-i", "RITA", "--site", "dodoma-hq", "--bandwidth", "10M", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["state"] == "requested"


def test_vlan_exhaustion_names_the_pool_and_pop(cli, backend):
    pool(cli, "dodoma-1", "10.20.0.0/16", "DODOMA=100-100")
    first, second = site(cli, "one"), site(cli, "two")
    drive(cli, first, ["approve", "provision"])
    drive(cli, second, ["approve"])
    r = cli("govnet", "provision", second, "--provider", "TTCL", "--circuit-id", "X")
    assert r.exit_code == 5
    assert "pool dodoma-1 has no free VLAN left at PoP DODOMA (100-100 are all in use)" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Allocation)) == 1


@pytest.mark.parametrize("extra, message", [
    (["--bandwidth", "20MB/s"], "bandwidth '20MB/s' is not a rate in bits per second"),
    (["--bandwidth", "20M", "--pop", "NOWHERE"], "unknown PoP 'NOWHERE'"),
    (["--bandwidth", "20M", "--pop", "ARUSHA"], "pool dodoma-1 has no VLANs at PoP ARUSHA (it has: DODOMA)"),
    (["--bandwidth", "20M", "--prefix-length", "12"], "prefix length /12 is larger than the pool 10.20.0.0/16"),
    (["--bandwidth", "20M", "--prefix-length", "31"], "prefix length /31 is outside /8–/30"),
    (["--bandwidth", "20M", "--pool", "nope"], "pool nope not found"),
])
def test_bad_requests_store_nothing(cli, backend, extra, message):
    pool(cli)
    assert cli("govnet", "sites", "create", "RITA/dodoma-hq", "--region", "Dodoma").exit_code == 0
    r = cli("govnet", "onboard", "-i", "RITA", "--site", "dodoma-hq", *extra)
    assert r.exit_code == (3 if "not found" in message else 2), r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Onboarding)) == 0


def test_a_site_has_one_open_request(cli, backend):
    pool(cli)
    ref = site(cli, "dodoma-hq")
    r = cli("govnet", "onboard", "-i", "RITA", "--site", "dodoma-hq", "--bandwidth", "50M")
    assert r.exit_code == 5 and f"site {ref} already has an open onboarding request" in r.stderr


def test_roles(cli, backend):
    pool(cli)
    ref = site(cli, "dodoma-hq", role="operator")          # an operator requests for its own institution
    denied = cli("govnet", "sites", "create", "TRA/hq", "--region", "Dodoma", role="operator")
    assert denied.exit_code == 4
    assert cli("govnet", "approve", ref, role="operator").exit_code == 4     # approval is e-GA's
    assert cli("govnet", "approve", ref, role="helpdesk").exit_code == 4
    assert cli("govnet", "sites", "show", ref, role="operator_tra").exit_code == 4
    assert state_of(backend, ref) == "requested"
    assert cli("govnet", "offboard", ref, "--yes", role="operator").exit_code == 0   # but may withdraw it
    assert state_of(backend, ref) == "decommissioned"


def test_offboard_asks_first_and_dry_run_changes_nothing(cli, backend):
    pool(cli)
    ref = site(cli, "dodoma-hq")
    drive(cli, ref, ["approve"])
    r = cli("govnet", "offboard", ref)
    assert r.exit_code == 2 and "--yes" in r.stderr
    r = cli("govnet", "provision", ref, "--provider", "TTCL", "--circuit-id", "X", "--dry-run")
    assert r.exit_code == 0
    assert ("would provision RITA/dodoma-hq (request 1): approved → provisioned, 10.20.0.0/29 and VLAN 100 at DODOMA"
            in r.stderr)
    r = cli("govnet", "activate", ref, "--throughput", "20M", "--latency-ms", "1", "--loss-pct", "0", "--dry-run")
    assert r.exit_code == 5 and "cannot activate a site that is approved" in r.stderr
    assert state_of(backend, ref) == "approved"
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Allocation)) == 0


def test_a_dry_run_is_the_backends_whole_step(cli, backend):
    """Before, --dry-run only read the lifecycle: it said a failing link test would activate the
    site, and that a site with an open request would get another."""
    pool(cli)
    ref = site(cli, "dodoma-hq")
    again = cli("govnet", "onboard", "--site", ref, "--bandwidth", "10M", "--dry-run")
    assert again.exit_code == 5 and "already has an open onboarding request (#1, requested)" in again.stderr
    drive(cli, ref, ["approve", "provision"])
    failing = cli("govnet", "activate", ref, "--throughput", "19M", "--latency-ms", "9", "--loss-pct", "2.5", "--dry-run")
    assert failing.exit_code == 5 and "link test failed: loss 2.5% is above 1%" in failing.stderr
    passing = cli("govnet", "activate", ref, "--throughput", "19.8M", "--latency-ms", "9", "--loss-pct", "0",
                  "--dry-run", "-o", "json")
    assert passing.exit_code == 0 and passing.json()["state"] == "active"
    drive(cli, ref, ["activate"])
    off = cli("govnet", "offboard", ref, "--dry-run")
    assert off.exit_code == 0 and "active → decommissioned, 10.20.0.0/29 and VLAN 100 held until" in off.stderr
    assert state_of(backend, ref) == "active"
    other = site(cli, "arusha", "TRA")
    fresh = cli("govnet", "onboard", "--site", "TRA/x", "--bandwidth", "10M", "--dry-run")
    assert fresh.exit_code == 3
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Onboarding)) == 2
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "offboard")) == 0
    assert other == "TRA/arusha"


def test_a_stale_view_is_refused(cli, backend):
    pool(cli)
    site(cli, "dodoma-hq")
    r = cli("api", "POST", "/api/v1/govnet/onboardings/1/approve", "-H", 'If-Match: "v7"')
    assert r.exit_code == 5 and "changed since you read it" in r.stderr
    assert state_of(backend, "RITA/dodoma-hq") == "requested"
    r = cli("api", "POST", "/api/v1/govnet/onboardings/1/approve", "-H", 'If-Match: "v1"')
    assert r.exit_code == 0, r.stderr
    assert state_of(backend, "RITA/dodoma-hq") == "approved"


def test_history_is_newest_first_unless_oldest_first(cli, backend, clock):
    pool(cli)
    ref = site(cli, "dodoma-hq")
    for step in ("approve", "provision", "activate", "suspend"):
        clock.advance(hours=1)
        drive(cli, ref, [step])
    story = ["create", "onboard", "approve", "provision", "activate", "suspend"]
    newest = cli("govnet", "history", ref, "-o", "json")
    assert newest.exit_code == 0, newest.stderr
    assert [e["action"] for e in newest.json()] == story[::-1]
    assert [e["action"] for e in cli("govnet", "history", ref, "-L", "2", "-o", "json").json()] == ["suspend", "activate"]
    oldest = cli("govnet", "history", ref, "--oldest-first", "-L", "2", "-o", "json").json()
    assert [e["action"] for e in oldest] == ["create", "onboard"]
    # Across pages, both ways (the API's pages are smaller than the listing).
    api_newest = cli("api", "GET", f"/api/v1/govnet/sites/{ref}/history", "-f", "limit=4", "--paginate")
    assert [e["action"] for e in api_newest.json()] == story[::-1], api_newest.stdout
    api_oldest = cli("api", "GET", f"/api/v1/govnet/sites/{ref}/history", "-f", "limit=4", "-f", "oldest_first=true",
                     "--paginate")
    assert [e["action"] for e in api_oldest.json()] == story


def test_history_tells_the_story(cli, backend):
    pool(cli)
    ref = site(cli, "dodoma-hq")
    drive(cli, ref, ["approve", "provision", "activate", "suspend"])
    r = cli("govnet", "history", ref, "--oldest-first", "-o", "json")
    assert r.exit_code == 0, r.stderr
    entries = r.json()
    assert [e["action"] for e in entries] == ["create", "onboard", "approve", "provision", "activate", "suspend"]
    assert entries[3]["after"]["prefix"] == "10.20.0.0/29" and entries[5]["reason"] == "unpaid circuit"
    assert all(e["request_id"] for e in entries)
    table = cli("govnet", "history", ref)
    assert "provision" in table.stdout and "10.20.0.0/29" in table.stdout
    helpdesk = cli("govnet", "history", ref, "-o", "json", role="helpdesk").json()
    assert len(helpdesk) == 6 and all(e["after"] is None for e in helpdesk)
    assert cli("govnet", "history", "RITA/nowhere").exit_code == 3


def test_times_in_messages_are_east_africa_time_and_fields_stay_rfc3339(cli, backend, clock):
    """The hold's end and the link test's time are said in East Africa Time, to the minute, as egactl shows
    every time: at 22:30 UTC it is 01:30 the next day in Dar es Salaam (a date cut from the UTC time was a day
    early; the rest showed RFC 3339 in UTC). The API's fields stay RFC 3339."""
    clock.advance(hours=13, minutes=30)  # 2026-11-22 22:30 UTC; the hold is 30 days
    pool(cli)
    ref = site(cli, "dodoma-hq")
    drive(cli, ref, ["approve", "provision"])
    r = cli(*args_for("activate", ref))
    assert r.exit_code == 0, r.stderr
    assert "19.8M, 14 ms, 0.1% loss (2026-11-23 01:30 EAT)" in r.stdout
    dry = cli("govnet", "offboard", ref, "--dry-run")
    assert dry.exit_code == 0 and "10.20.0.0/29 and VLAN 100 held until 2026-12-23 01:30 EAT" in dry.stderr
    r = cli("govnet", "offboard", ref, "--yes")
    assert r.exit_code == 0, r.stderr
    assert f"Offboarded {ref} (request 1); 10.20.0.0/29 and VLAN 100 are held until 2026-12-23 01:30 EAT" in r.stderr
    shown = cli("govnet", "sites", "show", ref, "-o", "json").json()["onboarding"]
    assert shown["hold_until"] == "2026-12-22T22:30:00+00:00"
    [item] = cli("find", "10.20.0.3", "--service", "govnet", "-o", "json").json()
    assert item["summary"].startswith("decommissioned · 10.20.0.0/29 held until 2026-12-23 01:30 EAT · ")
    r = cli("govnet", "sites", "delete", ref, "--yes")
    assert r.exit_code == 5
    assert (f"site {ref}'s prefix 10.20.0.0/29 and VLAN 100 are held until 2026-12-23 01:30 EAT; the site can be "
            f"deleted once they are back in the pool") in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Site)) == 1
