"""govnet pools: creating, showing utilisation, and refusing bad pools with nothing stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_govnet.server.models import FreeBlock, Onboarding, Pool, PoolVlans, Site


def count(backend, model) -> int:
    with backend.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def make_pool(cli, name="dodoma-1", cidr="10.20.0.0/16", *extra, vlans="DODOMA=100-899", region="Dodoma"):
    r = cli("govnet", "pools", "create", name, cidr, "--vlans", vlans, "--region", region, *extra, "-o", "json")
    assert r.exit_code == 0, r.stderr
    return r.json()


def test_create_stores_pool_free_list_and_audit(cli, backend):
    data = make_pool(cli)
    assert data["cidr"] == "10.20.0.0/16" and data["default_prefix_length"] == 29 and data["region"] == "Dodoma"
    assert data["vlans"] == [{"pop": "DODOMA", "first": 100, "last": 899, "total": 800, "used": 0, "free": 800}]
    assert data["usage"]["utilisation"] == 0 and data["usage"]["largest_free_block"] == "10.20.0.0/16"
    assert data["usage"]["capacity"] == 8192
    with backend.read_sessions() as s:
        pool = s.scalar(select(Pool))
        assert (pool.start, pool.length, pool.stop) == (0x0A140000, 16, 0x0A150000)
        assert [(b.start, b.length) for b in s.scalars(select(FreeBlock))] == [(0x0A140000, 16)]
        entry = s.scalar(select(AuditEntry).where(AuditEntry.resource_type == "govnet_pool"))
        assert entry.action == "create" and entry.resource_id == "dodoma-1" and entry.request_id


def test_list_and_show_for_people_and_scripts(cli):
    make_pool(cli)
    make_pool(cli, "arusha-1", "10.40.0.0/20", "--default-prefix-length", "28", vlans="ARUSHA=10-99", region="Arusha")
    table = cli("govnet", "pools", "list")
    assert table.exit_code == 0
    assert "dodoma-1" in table.stdout and "10.40.0.0/20" in table.stdout and "SITES LEFT" in table.stdout
    shown = cli("govnet", "pools", "show", "arusha-1", "-o", "json").json()
    assert shown["default_prefix_length"] == 28 and shown["free_blocks"] == ["10.40.0.0/20"]
    assert shown["usage"]["capacity"] == 256
    assert cli("govnet", "pools", "list", "-o", "json", role="helpdesk").exit_code == 0
    missing = cli("govnet", "pools", "show", "nope")
    assert missing.exit_code == 3 and missing.stderr.strip() == "error: pool nope not found"


def test_empty_list_is_valid_output(cli):
    r = cli("govnet", "pools", "list", "-o", "json")
    assert r.exit_code == 0 and r.json() == []


@pytest.mark.parametrize("args, message", [
    (["dodoma-2", "10.20.128.0/17"], "10.20.128.0/17 overlaps pool dodoma-1 (10.20.0.0/16)"),
    (["big", "10.0.0.0/8"], "10.0.0.0/8 overlaps pool dodoma-1 (10.20.0.0/16)"),
    (["small", "10.30.0.0/16", "--default-prefix-length", "12"], "prefix length /12 is larger than the pool 10.30.0.0/16"),
    (["small", "10.30.0.0/16", "--default-prefix-length", "31"], "prefix length /31 is outside /8–/30"),
    (["odd", "10.30.0.1/16"], "has host bits set; did you mean 10.30.0.0/16?"),
    (["v6", "fd00::/64"], "GovNet pools are IPv4"),
    (["pop", "10.30.0.0/16", "--vlans", "NOWHERE=1-10"], "unknown PoP 'NOWHERE'"),
    (["vl", "10.30.0.0/16", "--vlans", "ARUSHA=10-5000"], "VLAN ids are 1–4094"),
    (["vl", "10.30.0.0/16", "--vlans", "DODOMA=850-950"], "VLANs 850-950 at DODOMA overlap pool dodoma-1's range 100-899"),
    (["Bad Name", "10.30.0.0/16"], "pool name 'Bad Name' must be"),
])
def test_bad_pools_exit_2_with_one_line_and_store_nothing(cli, backend, args, message):
    make_pool(cli)
    extra = [] if "--vlans" in args else ["--vlans", "ARUSHA=100-200"]
    r = cli("govnet", "pools", "create", *args, *extra)
    assert r.exit_code == 2, r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert count(backend, Pool) == 1 and count(backend, PoolVlans) == 1 and count(backend, FreeBlock) == 1


def test_backend_refuses_what_the_client_would_have_caught(cli, backend, tmp_path):
    """Another team's client may skip our checks; the backend's are authoritative."""
    body = tmp_path / "pool.json"
    body.write_text(json.dumps({"name": "x", "cidr": "10.9.0.0/16", "default_prefix_length": 8,
                                "vlans": [{"pop": "DODOMA", "first": 1, "last": 9}]}))
    r = cli("api", "POST", "/api/v1/govnet/pools", "--input", str(body))
    assert r.exit_code == 2 and "prefix length /8 is larger than the pool 10.9.0.0/16" in r.stderr
    body.write_text(json.dumps({"name": "x", "cidr": "10.9.0.0/16", "vlans": [{"pop": "ZANZIBAR", "first": 1, "last": 9}]}))
    r = cli("api", "POST", "/api/v1/govnet/pools", "--input", str(body))
    assert r.exit_code == 2 and "unknown PoP" in r.stderr
    assert count(backend, Pool) == 0


def test_only_admins_create_pools(cli, backend):
    for role in ("operator", "helpdesk"):
        r = cli("govnet", "pools", "create", "x-1", "10.9.0.0/16", "--vlans", "DODOMA=1-9", role=role)
        assert r.exit_code == 4, r.stderr
    assert count(backend, Pool) == 0


def test_dry_run_changes_nothing(cli, backend):
    r = cli("govnet", "pools", "create", "x-1", "10.9.0.0/16", "--vlans", "DODOMA=1-9", "--dry-run")
    assert r.exit_code == 0 and "would create pool x-1" in r.stderr
    assert count(backend, Pool) == 0


def test_utilisation_follows_allocations(cli, backend):
    """A /28 pool handing out /30s: used, capacity and largest free block move with each site."""
    r = cli("govnet", "pools", "create", "tiny", "192.168.50.0/28", "--vlans", "ARUSHA=10-20", "--region", "Arusha",
            "--default-prefix-length", "30")
    assert r.exit_code == 0, r.stderr
    for i in range(3):
        assert cli("govnet", "sites", "create", f"ARUSHA-CC/s{i}", "--region", "Arusha").exit_code == 0
        assert cli("govnet", "onboard", "-i", "ARUSHA-CC", "--site", f"s{i}", "--bandwidth", "10M").exit_code == 0
        assert cli("govnet", "approve", f"ARUSHA-CC/s{i}").exit_code == 0
        r = cli("govnet", "provision", f"ARUSHA-CC/s{i}", "--provider", "TTCL", "--circuit-id", f"A{i}")
        assert r.exit_code == 0, r.stderr
    usage = cli("govnet", "pools", "show", "tiny", "-o", "json").json()["usage"]
    assert usage["used_addresses"] == 12 and usage["utilisation"] == 0.75
    assert usage["largest_free_block"] == "192.168.50.12/30" and usage["capacity"] == 1
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Onboarding).where(Onboarding.prefix.is_not(None))) == 3
        assert s.scalar(select(func.count()).select_from(Site)) == 3
