"""`mail list -i CODE` reads one index range per page, whatever the size of the table.

bench/scale.py found `mail list -i SONGWE-MC` (an institution whose mailboxes have high
ids) walking the table on PostgreSQL: `status <> 'purged'` defeated the (institution,
status) index, so the rows were found by the primary key and filtered. The command is
run for real, its SELECTs explained by the database (egactl.plugin.testing.query_plans).
"""

from __future__ import annotations

import pytest

from egactl.plugin.testing import query_plans

LOOKUPS = {
    "institution": (("mail", "list", "-i", "RITA"), "ix_mail_mailboxes_institution_id"),
    "institution-state": (("mail", "list", "-i", "RITA", "--state", "active"), "ix_mail_mailboxes_institution_status_id"),
}


def people(cli, backend):
    from egactl_mail.server.models import MailDomain

    with backend.write_sessions() as s:
        s.add(MailDomain(domain="rita.go.tz", institution="RITA", naming_rule="given.family", is_primary=True,
                         created_at=backend.now(), version=1))
        s.commit()
    for given, family, number in (("Juma", "Mrisho", "111234567"), ("Neema", "Kweka", "111234568")):
        r = cli("mail", "create", "-i", "RITA", "--given-name", given, "--family-name", family, "-e", number)
        assert r.exit_code == 0, r.stderr


def check(engine, cli, lookup, sorted_marker):
    args, index = LOOKUPS[lookup]
    if sorted_marker == "Sort":  # PostgreSQL picks among usable indexes by statistics: any range in order
        index = "ix_mail_mailboxes_institution_"

    def run():
        r = cli(*args)
        assert r.exit_code == 0, r.stderr

    found = query_plans(engine, "mail_mailboxes", run)
    assert found
    for plan in found:
        assert index in plan, plan
        assert sorted_marker not in plan, plan


@pytest.mark.parametrize("lookup", LOOKUPS, ids=str)
def test_an_institutions_mailboxes_are_one_index_range_on_sqlite(cli, backend, lookup):
    people(cli, backend)
    check(backend.engine, cli, lookup, "TEMP B-TREE")


@pytest.mark.parametrize("lookup", LOOKUPS, ids=str)
def test_an_institutions_mailboxes_are_one_index_range_on_postgresql(tmp_path, postgres_url, lookup):
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin",)) as (cli, be):
        people(cli, be)
        check(be.engine, cli, lookup, "Sort")
