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


def test_a_create_run_again_as_it_is_is_exit_0_exists_and_otherwise_exit_5(cli, backend):
    from sqlalchemy import func

    from egactl.server.models import AuditEntry
    from egactl_govnet.server.models import Pool, Site

    pool = ("govnet", "pools", "create", "dodoma-1", "10.20.0.0/16", "--vlans", "DODOMA=100-899", "--region", "Dodoma")
    assert cli(*pool).exit_code == 0
    again = cli(*pool)
    assert again.exit_code == 0 and "exists: already there exactly as asked; nothing changed" in again.stderr, again.stderr
    other = cli(*pool[:-2], "--region", "Singida")
    assert other.exit_code == 5 and "pool dodoma-1 already exists with other values for region" in other.stderr
    vlans = cli(*pool[:6], "DODOMA=100-999")
    assert vlans.exit_code == 5 and "pool dodoma-1 already exists with other values for vlans" in vlans.stderr
    site = ("govnet", "sites", "create", "RITA/hq", "--region", "Dodoma", "--contact-phone", "0754 123 456")
    assert cli(*site).exit_code == 0
    again = cli("govnet", "sites", "create", "hq", "-i", "RITA", "--region", "dodoma", "--contact-phone",
                "+255754123456", "-o", "json")  # the same site, written another way
    assert again.exit_code == 0 and again.json()["site"] == "RITA/hq"
    other = cli(*site[:-1], "0754 123 457")
    assert other.exit_code == 5 and "site RITA/hq already exists with other values for contact_phone" in other.stderr
    fewer = cli("govnet", "sites", "create", "RITA/hq", "--region", "Dodoma")  # a field not given asks nothing
    assert fewer.exit_code == 0 and "exists" in fewer.stderr
    assert cli(*site, role="operator_tra").exit_code == 4  # "exists" tells nothing to those who may not create it
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Pool)) == 1
        assert s.scalar(select(func.count()).select_from(Site)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "create")) == 2


def test_a_create_dry_run_is_judged_by_the_backend(cli, backend):
    """Before, `--dry-run` said it would create a site of an institution that does not exist."""
    from sqlalchemy import func

    from egactl_govnet.server.models import Pool, Site

    missing = cli("govnet", "sites", "create", "NOPE/hq", "--region", "Dodoma", "--dry-run")
    assert missing.exit_code == 3 and "institution NOPE not found" in missing.stderr
    assert cli("govnet", "sites", "create", "RITA/hq", "--region", "Dodoma", "--dry-run", role="operator_tra").exit_code == 4
    ok = cli("govnet", "sites", "create", "RITA/hq", "--region", "Dodoma", "--dry-run")
    assert ok.exit_code == 0 and "dry run: would create site RITA/hq" in ok.stderr
    assert cli("govnet", "pools", "create", "a-1", "10.9.0.0/16", "--vlans", "DODOMA=1-9").exit_code == 0
    overlap = cli("govnet", "pools", "create", "b-1", "10.9.128.0/17", "--vlans", "ARUSHA=1-9", "--dry-run")
    assert overlap.exit_code == 2 and "overlaps pool a-1" in overlap.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Site)) == 0
        assert s.scalar(select(func.count()).select_from(Pool)) == 1
