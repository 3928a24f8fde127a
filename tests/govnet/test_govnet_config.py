"""govnet config: the customer-edge configuration, from the shipped templates or a network team's own."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def active_site(cli):
    steps = [
        ("pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899", "--region", "Dodoma"),
        ("sites", "create", "RITA/dodoma-hq", "--region", "Dodoma"),
        ("sites", "create", "RITA/waiting", "--region", "Dodoma"),
        ("onboard", "-i", "RITA", "--site", "waiting", "--bandwidth", "10M"),
        ("onboard", "-i", "RITA", "--site", "dodoma-hq", "--bandwidth", "20M", "--prefix-length", "29"),
        ("approve", "RITA/dodoma-hq"),
        ("provision", "RITA/dodoma-hq", "--provider", "TTCL", "--circuit-id", "DOM-7", "--committed-rate", "25M"),
        ("activate", "RITA/dodoma-hq", "--throughput", "24M", "--latency-ms", "8", "--loss-pct", "0"),
    ]
    for step in steps:
        r = cli("govnet", *step)
        assert r.exit_code == 0, (step, r.stderr)
    return "RITA/dodoma-hq"


def test_cisco_config_has_the_sites_addresses_vlan_and_rate(cli, active_site):
    r = cli("govnet", "config", active_site)
    assert r.exit_code == 0, r.stderr
    text = r.stdout
    assert "hostname rita-dodoma-hq" in text
    assert "interface GigabitEthernet0/0.100" in text and "encapsulation dot1Q 100" in text
    assert "ip address 10.20.0.2 255.255.255.248" in text
    assert "ip route 10.0.0.0 255.0.0.0 10.20.0.1 name GOVNET" in text
    assert "shape average 25000000" in text          # the circuit's committed rate, not the request's
    assert r.stderr == ""


def test_mikrotik_routes_and_extra_variables(cli, active_site):
    r = cli("govnet", "config", active_site, "--vendor", "mikrotik", "--route", "10.0.0.0/8", "--route", "172.16.0.0/12",
            "--set", "wan_interface=sfp1")
    assert r.exit_code == 0, r.stderr
    assert '/interface vlan add interface="sfp1" name="govnet-100" vlan-id=100' in r.stdout
    assert '/ip address add address="10.20.0.2/29" interface="govnet-100"' in r.stdout
    assert 'dst-address="172.16.0.0/12" gateway="10.20.0.1"' in r.stdout


def test_a_network_teams_own_template(cli, active_site, tmp_path):
    own = tmp_path / "juniper.j2"
    own.write_text("set interfaces ge-0/0/0 unit {{ vlan }} family inet address {{ ce_address }}/{{ prefix_length }}\n"
                   "# LAN {{ lan_first }}-{{ lan_last }} via {{ pe_address }} ({{ provider }} {{ circuit_id }})\n")
    r = cli("govnet", "config", active_site, "--template", str(own))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ("set interfaces ge-0/0/0 unit 100 family inet address 10.20.0.2/29\n"
                        "# LAN 10.20.0.3-10.20.0.6 via 10.20.0.1 (TTCL DOM-7)\n")
    as_json = cli("govnet", "config", active_site, "--template", str(own), "-o", "json")
    assert json.loads(as_json.stdout)["config"] == r.stdout


def test_template_mistakes_are_exit_2_naming_the_template(cli, active_site, tmp_path):
    typo = tmp_path / "typo.j2"
    typo.write_text("ip address {{ ce_adress }}\n")
    r = cli("govnet", "config", active_site, "--template", str(typo))
    assert r.exit_code == 2 and "typo.j2: 'ce_adress' is undefined" in r.stderr and r.stdout == ""
    broken = tmp_path / "broken.j2"
    broken.write_text("line one\n{% for r in routes %}\n")
    r = cli("govnet", "config", active_site, "--template", str(broken))
    assert r.exit_code == 2 and "broken.j2, line 2" in r.stderr
    assert cli("govnet", "config", active_site, "--template", str(tmp_path / "none.j2")).exit_code == 2
    assert cli("govnet", "config", active_site, "--vendor", "huawei").exit_code == 2
    assert cli("govnet", "config", active_site, "--set", "novalue").exit_code == 2
    assert cli("govnet", "config", active_site, "--route", "10.0.0.0/33").exit_code == 2


def test_only_a_provisioned_or_active_site_has_a_config(cli, active_site):
    r = cli("govnet", "config", "RITA/waiting")
    assert r.exit_code == 5 and "site RITA/waiting is requested" in r.stderr and "provision it first" in r.stderr
    assert cli("govnet", "config", "RITA/nowhere").exit_code == 3
    assert cli("govnet", "config", active_site, role="helpdesk").exit_code == 0   # a read, for the help desk too
