"""egactl find in GovNet: an address or prefix → the site whose prefix holds it (or the sites
inside it), a circuit id → its site, a contact's number → the sites it is the contact of;
scoped to the caller's institutions, contacts masked for the help desk as `sites show`
masks them, and every lookup read from an index (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egactl.plugin.testing import query_plans
from egactl_govnet.server.models import Allocation, Site
from egactl_govnet.server.workers import release_holds

RITA_ACTIVE = "active · 10.20.0.0/29 · VLAN 100 at DODOMA · circuit TTCL TTCL-DOM-00123 · Dodoma"
TRA_PROVISIONED = "provisioned · 10.20.0.8/29 · VLAN 101 at DODOMA · circuit AIRTEL AT-7781 · Dodoma"


@pytest.fixture
def backend_settings():
    return {"govnet.hold_days": 30}


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def two_sites(cli):
    """RITA/dodoma-hq active on 10.20.0.0/29 (circuit TTCL-DOM-00123), TRA/dodoma provisioned on
    10.20.0.8/29 (circuit AT-7781); each with a contact."""
    ok(cli("govnet", "pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899", "--region", "Dodoma"))
    for ref, name, phone, email in (("RITA/dodoma-hq", "Asha Mwinyi", "0754 000 111", "ict@rita.go.tz"),
                                    ("TRA/dodoma", "Juma Bakari", "+255754000222", "juma.bakari@tra.go.tz")):
        ok(cli("govnet", "sites", "create", ref, "--region", "Dodoma", "--contact-name", name,
               "--contact-phone", phone, "--contact-email", email))
        ok(cli("govnet", "onboard", "--site", ref, "--bandwidth", "20M"))
        ok(cli("govnet", "approve", ref))
    ok(cli("govnet", "provision", "RITA/dodoma-hq", "--provider", "TTCL", "--circuit-id", "TTCL-DOM-00123"))
    ok(cli("govnet", "provision", "TRA/dodoma", "--provider", "Airtel", "--circuit-id", "AT-7781"))
    ok(cli("govnet", "activate", "RITA/dodoma-hq", "--throughput", "19.8M", "--latency-ms", "9", "--loss-pct", "0"))


@pytest.fixture
def sites(cli):
    two_sites(cli)


def found(cli, term, role="admin", service="govnet"):
    r = cli("find", term, "--service", service, "-o", "json", role=role)
    assert r.exit_code in (0, 3), (term, r.stderr)
    return [] if r.exit_code == 3 else r.json()


def refs(items):
    return [(f["kind"], f["reference"], f["rank"]) for f in items]


# -- an address or a prefix ------------------------------------------------------------


@pytest.mark.parametrize("term, expected", [
    ("10.20.0.0", [("site", "RITA/dodoma-hq", 100)]),   # the prefix's first address
    ("10.20.0.5", [("site", "RITA/dodoma-hq", 100)]),
    ("10.20.0.7", [("site", "RITA/dodoma-hq", 100)]),   # its last
    ("10.20.0.8", [("site", "TRA/dodoma", 100)]),
    ("10.20.0.15", [("site", "TRA/dodoma", 100)]),
    ("10.20.0.16", []),                                 # past every prefix: nobody's
    ("10.19.255.255", []),                              # below every prefix
    ("10.20.0.0/29", [("site", "RITA/dodoma-hq", 100)]),
    ("10.20.0.4/30", [("site", "RITA/dodoma-hq", 100)]),  # a part of a site's prefix
    ("10.20.0.4/29", [("site", "RITA/dodoma-hq", 100)]),  # written loosely: the core reads 10.20.0.0/29
    ("10.20.0.0/28", [("site", "RITA/dodoma-hq", 80), ("site", "TRA/dodoma", 80)]),  # the sites inside it
    ("10.20.0.0/16", [("site", "RITA/dodoma-hq", 80), ("site", "TRA/dodoma", 80)]),
    ("10.0.0.0/8", [("site", "RITA/dodoma-hq", 80), ("site", "TRA/dodoma", 80)]),
    ("10.30.0.0/16", []),
])
def test_an_address_or_prefix_names_the_site_holding_it(cli, sites, term, expected):
    assert sorted(refs(found(cli, term)), key=lambda r: (-r[2], r[1])) == expected


def test_the_answer_says_state_prefix_vlan_and_circuit_and_its_command_works(cli, sites):
    [item] = found(cli, "10.20.0.3")
    assert item == {"service": "govnet", "kind": "site", "reference": "RITA/dodoma-hq", "institution": "RITA",
                    "rank": 100, "summary": RITA_ACTIVE, "command": "egactl govnet sites show RITA/dodoma-hq"}
    shown = ok(cli(*item["command"].split()[1:], "-o", "json")).json()
    assert (shown["onboarding"]["prefix"], shown["onboarding"]["vlan"]) == ("10.20.0.0/29", 100)
    assert found(cli, "10.20.0.9")[0]["summary"] == TRA_PROVISIONED


def test_a_decommissioned_sites_prefix_is_its_own_until_the_hold_ends(cli, backend, clock, sites):
    ok(cli("govnet", "offboard", "TRA/dodoma", "--yes"))
    [item] = found(cli, "10.20.0.9")
    assert item["reference"] == "TRA/dodoma"
    assert item["summary"].startswith("decommissioned · 10.20.0.8/29 held until ")
    clock.advance(days=31)
    assert release_holds(backend) == 1
    assert found(cli, "10.20.0.9") == []  # back in the pool: nobody's
    with backend.read_sessions() as s:
        assert s.scalar(select(Allocation).where(Allocation.start == 0x0A140008)) is None


def test_an_operator_finds_only_its_institutions_sites(cli, sites):
    assert refs(found(cli, "10.20.0.0/16", role="operator")) == [("site", "RITA/dodoma-hq", 80)]
    assert found(cli, "10.20.0.9", role="operator") == []  # TRA's: not even that it is taken
    assert refs(found(cli, "10.20.0.9", role="operator_tra")) == [("site", "TRA/dodoma", 100)]


def test_the_help_desk_finds_every_site(cli, sites):
    assert [f["summary"] for f in found(cli, "10.20.0.0/16", role="helpdesk")] == [RITA_ACTIVE, TRA_PROVISIONED]


# -- a circuit id -------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["TTCL-DOM-00123", "ttcl-dom-00123"])
def test_a_circuit_id_names_its_site(cli, sites, term):
    [item] = found(cli, term)
    assert (item["reference"], item["rank"], item["summary"]) == ("RITA/dodoma-hq", 100, RITA_ACTIVE)


def test_a_closed_requests_circuit_still_names_its_site_lower(cli, sites):
    ok(cli("govnet", "offboard", "TRA/dodoma", "--yes"))
    [item] = found(cli, "AT-7781")
    assert (item["reference"], item["rank"]) == ("TRA/dodoma", 60)
    assert item["summary"].startswith("decommissioned · ")


def test_another_institutions_circuit_is_not_found_by_an_operator(cli, sites):
    assert found(cli, "AT-7781", role="operator") == []
    assert refs(found(cli, "AT-7781", role="operator_tra")) == [("site", "TRA/dodoma", 100)]
    assert found(cli, "NO-SUCH-CIRCUIT") == []


# -- a contact's number ----------------------------------------------------------------------


@pytest.mark.parametrize("term", ["0754000111", "+255 754 000 111", "255754000111"])
def test_a_phone_number_names_the_sites_it_is_the_contact_of(cli, sites, term):
    [item] = found(cli, term)
    assert item == {"service": "govnet", "kind": "contact", "reference": "RITA/dodoma-hq", "institution": "RITA",
                    "rank": 100, "summary": "contact Asha Mwinyi, +255754000111, ict@rita.go.tz · Dodoma",
                    "command": "egactl govnet sites show RITA/dodoma-hq"}


def test_the_help_desk_sees_the_contact_masked_as_sites_show_masks_it(cli, sites):
    [item] = found(cli, "0754000222", role="helpdesk")
    contact = ok(cli("govnet", "sites", "show", "TRA/dodoma", "-o", "json", role="helpdesk")).json()["contact"]
    assert contact["phone"] != "+255754000222" and "Bakari" not in contact["name"]  # masked there…
    assert item["summary"] == f"contact {contact['name']}, {contact['phone']}, {contact['email']} · Dodoma"  # …and here
    assert "Bakari" not in item["summary"] and "000222" not in item["summary"] and "juma.bakari" not in item["summary"]


def test_an_operator_finds_only_its_institutions_contacts(cli, sites):
    assert found(cli, "0754000222", role="operator") == []
    assert refs(found(cli, "0754000222", role="operator_tra")) == [("contact", "TRA/dodoma", 100)]


def test_a_contact_moved_to_another_number_is_found_by_the_new_one(cli, backend, sites):
    ok(cli("govnet", "sites", "update", "RITA/dodoma-hq", "--contact-phone", "0754 999 888"))
    assert found(cli, "0754000111") == []
    assert refs(found(cli, "0754999888")) == [("contact", "RITA/dodoma-hq", 100)]
    with backend.read_sessions() as s:
        assert s.scalar(select(Site.contact_phone).where(Site.name == "dodoma-hq")) == "+255754999888"


# -- every lookup reads an index ---------------------------------------------------------------

LOOKUPS = {
    "address": ("10.20.0.9", "sqlite_autoindex_govnet_allocations"),
    "prefix": ("10.20.0.0/16", "sqlite_autoindex_govnet_allocations"),
    "circuit": ("AT-7781", "ix_govnet_onboardings_circuit"),
    "phone": ("0754000222", "ix_govnet_sites_contact_phone"),
}


@pytest.mark.parametrize("lookup", LOOKUPS, ids=str)
@pytest.mark.parametrize("role", ["admin", "operator_tra"])
def test_every_lookup_reads_an_index_on_sqlite(cli, backend, sites, lookup, role):
    term, index = LOOKUPS[lookup]
    plans = query_plans(backend.engine, "govnet_", lambda: found(cli, term, role=role))
    if not (lookup == "prefix" and role != "admin"):
        assert any(index in p for p in plans), plans
    for plan in plans:
        assert not any(step.startswith("SCAN") for step in plan.split(" | ")), plan
        if lookup == "prefix" and role != "admin":
            continue  # an operator's prefixes may be read from its institution's few sites, then put in order
        assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("lookup", LOOKUPS, ids=str)
def test_every_lookup_reads_an_index_on_postgresql(postgres_url, lookup):
    from tests.conftest import cli_on

    term, index = LOOKUPS[lookup]
    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        two_sites(cli)
        for role in ("admin", "operator"):
            plans = query_plans(be.engine, "govnet_", lambda: found(cli, term, role=role))
            assert plans
            if not index.startswith("sqlite_"):
                assert any(index in p for p in plans), plans
            for plan in plans:
                assert "Seq Scan" not in plan and "Sort" not in plan, plan


def test_a_contact_stored_before_the_phone_rule_is_found_by_the_number_too(cli, backend, sites):
    from sqlalchemy import update

    with backend.write_sessions() as s:  # a row from before numbers were stored as +255…
        s.execute(update(Site).where(Site.institution == "TRA").values(contact_phone="0754000222"))
        s.commit()
    [item] = found(cli, "+255 754 000 222")
    assert (item["reference"], item["summary"]) == ("TRA/dodoma", "contact Juma Bakari, 0754000222, "
                                                                  "juma.bakari@tra.go.tz · Dodoma")
    assert "000222" not in found(cli, "0754000222", role="helpdesk")[0]["summary"]


def test_other_institutions_prefixes_do_not_crowd_an_operators_out_of_the_limit(cli):
    ok(cli("govnet", "pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899", "--region", "Dodoma"))
    for ref in ("TRA/a", "TRA/b", "RITA/c"):  # provisioned in this order: TRA's two prefixes are below RITA's
        ok(cli("govnet", "sites", "create", ref, "--region", "Dodoma"))
        ok(cli("govnet", "onboard", "--site", ref, "--bandwidth", "20M"))
        ok(cli("govnet", "approve", ref))
        ok(cli("govnet", "provision", ref, "--provider", "TTCL", "--circuit-id", f"TTCL-{ref}"))
    r = ok(cli("find", "10.20.0.0/16", "--service", "govnet", "--limit", "1", "-o", "json", role="operator"))
    assert [(f["reference"], f["summary"].split(" · ")[1]) for f in r.json()] == [("RITA/c", "10.20.0.16/29")]
    r = ok(cli("find", "10.20.0.0/16", "--service", "govnet", "--limit", "1", "-o", "json"))
    assert [f["reference"] for f in r.json()] == ["TRA/a"]
