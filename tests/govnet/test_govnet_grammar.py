"""govnet in the tool's one grammar: short flags that mean one thing, old spellings kept for a release."""

from __future__ import annotations

from sqlalchemy import select

from egactl_govnet.server.models import Onboarding


def test_onboard_site_is_spelled_long_and_the_old_s_still_works_with_a_notice(cli, backend):
    """-s means --state across the tool; `onboard -s NAME` keeps working for a release and says so."""
    assert cli("govnet", "pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899",
               "--region", "Dodoma").exit_code == 0
    assert cli("govnet", "sites", "create", "RITA/hq", "--region", "Dodoma").exit_code == 0
    old = cli("govnet", "onboard", "-i", "RITA", "-s", "hq", "--bandwidth", "10M")
    assert old.exit_code == 0, old.stderr
    assert "`egactl govnet onboard -s` is now `--site`" in old.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(Onboarding.state)) == "requested"
    helptext = cli("govnet", "onboard", "--help").stdout
    assert "--site" in helptext and "-s," not in helptext and "-s " not in helptext


def test_short_flags_follow_the_tools_table(cli):
    """-s --state, -r --reason, -d --description, as everywhere else in egactl."""
    assert cli("govnet", "sites", "create", "RITA/hq", "--region", "Dodoma").exit_code == 0
    assert cli("govnet", "sites", "list", "-s", "requested", "-o", "json").json() == []
    r = cli("govnet", "pools", "create", "p1", "10.40.0.0/16", "--vlans", "ARUSHA=10-20", "-d", "Arusha spare",
            "-o", "json")
    assert r.exit_code == 0 and r.json()["description"] == "Arusha spare"
    assert "-r, --reason" in cli("govnet", "suspend", "--help").stdout


def test_onboard_takes_the_site_as_institution_slash_name_without_i(cli, backend):
    """--site says "NAME (or INSTITUTION/NAME)": the institution in the reference is enough."""
    assert cli("govnet", "pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899",
               "--region", "Dodoma").exit_code == 0
    assert cli("govnet", "sites", "create", "RITA/hq", "--region", "Dodoma").exit_code == 0
    r = cli("govnet", "onboard", "--site", "RITA/hq", "--bandwidth", "10M")
    assert r.exit_code == 0, r.stderr
    missing = cli("govnet", "onboard", "--site", "hq", "--bandwidth", "10M")
    assert missing.exit_code == 2 and "INSTITUTION/SITE" in missing.stderr, missing.stderr
