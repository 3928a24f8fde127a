"""Text that reaches a router's configuration: refused at input (CLI exit 2, backend 422), escaped at render.

A provider, circuit id, district, address, contact, pool description or ``--set``
value that holds a line break or a quote could otherwise add commands to the
configuration a network engineer pastes into a customer-edge router.
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select, update

from egactl_govnet.server.models import Onboarding, Pool, Site
from egactl_govnet.commands.ce_config import shipped_templates

# The two classic injections: a new IOS command on its own line, and a RouterOS
# quoted string closed early followed by a command of the attacker's.
NEWLINE = "TTCL\ninterface GigabitEthernet0/0\n shutdown"
QUOTE = 'TTCL" /ip service enable telnet'
HOSTILE = [NEWLINE, QUOTE, "TTCL\r\n/ip service enable telnet", "TTCL\u2028shutdown", "TTCL $x ? \\",
           "Caf\u00e9\x00\x1b[2J"]


@pytest.fixture
def site(cli):
    steps = [
        ("pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899", "--region", "Dodoma"),
        ("sites", "create", "RITA/dodoma-hq", "--region", "Dodoma", "--district", "Dodoma CBD"),
        ("onboard", "-i", "RITA", "--site", "dodoma-hq", "--bandwidth", "20M"),
        ("approve", "RITA/dodoma-hq"),
    ]
    for step in steps:
        r = cli("govnet", *step)
        assert r.exit_code == 0, (step, r.stderr)
    return "RITA/dodoma-hq"


def provision(cli, ref="RITA/dodoma-hq", provider="TTCL", circuit="DOM-7"):
    return cli("govnet", "provision", ref, "--provider", provider, "--circuit-id", circuit)


def counts(backend):
    with backend.read_sessions() as s:
        return (s.scalar(select(func.count()).select_from(Site)), s.scalar(select(func.count()).select_from(Pool)),
                s.scalars(select(Onboarding.state)).all())


# -- refused at input -----------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_the_cli_refuses_router_unsafe_text_before_sending_anything(cli, backend, site, value):
    before = counts(backend)
    attempts = [
        (("sites", "create", "RITA/two", "--region", "Dodoma", "--address", value), "--address"),
        (("sites", "create", "RITA/two", "--region", "Dodoma", "--district", value), "--district"),
        (("sites", "create", "RITA/two", "--region", "Dodoma", "--contact-name", value), "--contact-name"),
        (("pools", "create", "arusha-1", "10.30.0.0/16", "--vlans", "ARUSHA=100-199", "--description", value),
         "--description"),
        (("provision", site, "--provider", value, "--circuit-id", "DOM-7"), "--provider"),
        (("provision", site, "--provider", "TTCL", "--circuit-id", value), "--circuit-id"),
    ]
    for args, flag in attempts:
        r = cli("govnet", *args)
        assert r.exit_code == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and flag in lines[0] and "router configuration" in lines[0], r.stderr
        assert r.stdout == ""
    assert counts(backend) == before  # nothing stored, the request still approved


def test_config_set_values_are_refused_too(cli, site):
    assert provision(cli).exit_code == 0
    for value in (NEWLINE, QUOTE):
        r = cli("govnet", "config", site, "--set", f"wan_interface={value}")
        assert r.exit_code == 2 and "--set" in r.stderr and "wan_interface" in r.stderr and r.stdout == ""
    ok = cli("govnet", "config", site, "--set", "wan_interface=GigabitEthernet0/1")
    assert ok.exit_code == 0 and "interface GigabitEthernet0/1.100" in ok.stdout


def test_ordinary_text_still_goes_through(cli, backend, site):
    r = cli("govnet", "sites", "create", "RITA/two", "--region", "Dodoma", "--address", "Plot 12, Jamhuri St. (2nd floor)",
            "--district", "Dodoma CBD", "--contact-name", "Zuhura Ng'wandu")
    assert r.exit_code == 0, r.stderr
    assert provision(cli, provider="ttcl", circuit="DOM-7/A #2").exit_code == 0
    with backend.read_sessions() as s:
        assert s.scalar(select(Site.address).where(Site.name == "two")) == "Plot 12, Jamhuri St. (2nd floor)"
        assert s.scalar(select(Onboarding.circuit_id)) == "DOM-7/A #2"


@pytest.fixture
def http(app, tokens):
    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    client = httpx.Client(transport=transport, base_url="http://backend",
                          headers={"Authorization": f"Bearer {tokens['admin']}"})
    yield client
    client.close()
    transport.close()


@pytest.mark.parametrize("value", [NEWLINE, QUOTE])
def test_the_backend_refuses_it_for_every_caller(http, backend, site, value):
    """The backend is authoritative: a caller other than egactl gets a 422 naming the field."""
    before = counts(backend)
    site_body = {"institution": "RITA", "name": "two", "region": "Dodoma"}
    for field in ("district", "address", "contact_name"):
        r = http.post("/api/v1/govnet/sites", json={**site_body, field: value})
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]  # the one field, with the rule's own line
        assert error["field"] == field and "router configuration" in error["message"], r.text
    r = http.post("/api/v1/govnet/pools", json={"name": "arusha-1", "cidr": "10.30.0.0/16", "description": value,
                                                "vlans": [{"pop": "ARUSHA", "first": 100, "last": 199}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "description", r.text
    ob = http.get("/api/v1/govnet/onboardings").json()["items"][0]
    for field in ("provider", "circuit_id"):
        body = {"provider": "TTCL", "circuit_id": "DOM-7", field: value}
        r = http.post(f"/api/v1/govnet/onboardings/{ob['id']}/provision", json=body,
                      headers={"If-Match": http.get(f"/api/v1/govnet/onboardings/{ob['id']}").headers["ETag"]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    r = http.post("/api/v1/govnet/import", json={"items": [{"line": 2, "institution": "RITA", "site": "three",
                                                            "region": "Dodoma", "address": value, "bandwidth": "10M"}]})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "failed"
    assert counts(backend) == before


def test_a_csv_import_row_with_such_text_is_reported_by_line(cli, backend, tmp_path):
    csv = tmp_path / "sites.csv"
    csv.write_text('institution,site,region,bandwidth,address\n'
                   'RITA,good,Dodoma,10M,Plot 1\n'
                   'RITA,bad,Dodoma,10M,"Plot 2\ninterface Gi0/0"\n')
    r = cli("govnet", "import", str(csv))
    assert r.exit_code == 2 and "sites.csv: line " in r.stderr and "address 'Plot 2\\ninterface" in r.stderr, r.stderr
    assert counts(backend)[0] == 0


# -- escaped at render ------------------------------------------------------------------


def store_as_before_the_rule(backend, provider, circuit, text):
    """Put text in the database as data stored before the input rule existed would be."""
    with backend.write_sessions() as s:
        s.execute(update(Onboarding).values(provider=provider, circuit_id=circuit))
        s.execute(update(Site).values(district=text, address=text, contact_name=text))
        s.commit()


QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def skeleton(line: str) -> str:
    """A RouterOS line with each quoted string's content removed."""
    return QUOTED.sub('""', line)


@pytest.mark.parametrize("vendor", sorted(shipped_templates()))
@pytest.mark.parametrize("value", HOSTILE)
def test_each_shipped_template_keeps_exactly_its_lines_whatever_was_stored(cli, backend, site, vendor, value):
    assert provision(cli).exit_code == 0
    benign = cli("govnet", "config", site, "--vendor", vendor)
    assert benign.exit_code == 0, benign.stderr
    store_as_before_the_rule(backend, value, value, value)
    hostile = cli("govnet", "config", site, "--vendor", vendor)
    assert hostile.exit_code == 0, hostile.stderr
    b_lines, h_lines = benign.stdout.splitlines(), hostile.stdout.splitlines()
    assert len(h_lines) == len(b_lines), hostile.stdout
    assert hostile.stdout.count("\n") == benign.stdout.count("\n")
    for b, h in zip(b_lines, h_lines):
        assert h.split(" ", 1)[0] == b.split(" ", 1)[0], (b, h)   # each line is the template's command
        if "TTCL" not in b:
            assert h == b                                          # lines without the stored text are untouched
        assert all(" " <= ch <= "~" for ch in h), h                # nothing a router or terminal could misread
        if vendor == "mikrotik":
            if not b.startswith("#"):
                assert skeleton(h) == skeleton(b), (b, h)          # the value stayed inside its quotes
        else:
            assert "?" not in h                                    # IOS would answer it with help
    assert not any(line.strip() in ("shutdown", "/ip service enable telnet") for line in h_lines)


def test_a_teams_own_template_is_escaped_too(cli, backend, site, tmp_path):
    assert provision(cli).exit_code == 0
    store_as_before_the_rule(backend, "TTCL", "DOM-7", QUOTE)
    own = tmp_path / "own.j2"
    own.write_text('/snmp set location="{{ address }}" contact="{{ site.contact.name }}"\n')
    r = cli("govnet", "config", site, "--template", str(own), "--vendor", "mikrotik")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == '/snmp set location="TTCL\\" /ip service enable telnet" contact="TTCL\\" /ip service enable telnet"\n'
    store_as_before_the_rule(backend, "TTCL", "DOM-7", NEWLINE)
    ios = tmp_path / "ios.j2"
    ios.write_text("snmp-server location {{ district }}\n")
    r = cli("govnet", "config", site, "--template", str(ios))
    assert r.stdout == "snmp-server location TTCL interface GigabitEthernet0/0  shutdown\n"


def test_vendor_escaping_rules():
    from egactl_govnet.commands import vendors

    assert vendors.mikrotik('a"b\\c$d?e\nf\tg') == 'a\\"b\\\\c\\$d\\?e\\nf\\tg'
    assert vendors.mikrotik("Caf\u00e9\x00") == "Caf\\C3\\A9\\00"
    assert vendors.cisco_ios("Caf\u00e9 Ng\u2019wandu?\r\nx") == "Caf\u0065 Ng_wandu_  x"
    assert vendors.cisco_ios(29) == vendors.mikrotik(29) == "29"
