"""`mail list -i CODE` reads one index range per page, whatever the size of the table;
`mail list --search` and `egactl find` read index ranges only (a union of indexed branches).

bench/scale.py found `mail list -i SONGWE-MC` (an institution whose mailboxes have high
ids) walking the table on PostgreSQL: `status <> 'purged'` defeated the (institution,
status) index, so the rows were found by the primary key and filtered. The command is
run for real, its SELECTs explained by the database (egactl.plugin.testing.query_plans).

It also found `mail list --search ADDRESS` on PostgreSQL walking the primary key through
an OR with a sub-plan, and `mail list --search "juma mr"` on SQLite scanning: a search
is now the UNION of its branches (address range, employee number, name words from
mail_name_tokens, or one range of mail_name_pairs for two words), each an index range, and
the mailboxes are read by primary key. Two words are read as the longer word whole (a range
of (first, second): the matches only) and the words it only starts: one range of `first`
read every pair of "juma", 20,000 entries for 1,400 matches at national size.
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


SEARCHES = {
    "search-address": ("mail", "list", "--search", "juma.mrisho@rita.go.tz"),
    "search-number": ("mail", "list", "--search", "111234567"),
    "search-name": ("mail", "list", "--search", "juma mr"),
    "search-one-name": ("mail", "list", "--search", "mrisho"),
    "search-three-names": ("mail", "list", "--search", "juma mris kw"),
    "search-name-institution": ("mail", "list", "-i", "RITA", "--search", "Mrisho Juma"),
    "find-address": ("find", "juma.mrisho@rita.go.tz", "--service", "mail"),
    "find-number": ("find", "111234567", "--service", "mail"),
    "find-name": ("find", "juma mr", "--service", "mail"),
}
TABLES = ("mail_mailboxes", "mail_addresses", "mail_name_tokens", "mail_name_pairs")
TWO_WORDS = ("search-name", "search-name-institution", "find-name")  # one range of the pairs' index


def search_plans(engine, cli, lookup):
    found = []
    for table in TABLES:
        found += query_plans(engine, table, lambda: cli(*SEARCHES[lookup]))
    assert found
    return found


@pytest.mark.parametrize("lookup", SEARCHES, ids=str)
def test_searches_read_index_ranges_on_sqlite(cli, backend, lookup):
    people(cli, backend)
    for plan in search_plans(backend.engine, cli, lookup):
        assert "SCAN mail_" not in plan, plan  # "SCAN named" is the words' intersection, not a table
        assert "INDEX" in plan or "PRIMARY KEY" in plan, plan
        if lookup in TWO_WORDS:
            # the longer word as a whole word: one range of (first, second), the matches only;
            # then the words it only starts (a range of first, second tested in the index)
            assert "ix_mail_name_pairs_first_second_mailbox (first=? AND second>? AND second<?)" in plan, plan
            assert "ix_mail_name_pairs_first_second_mailbox (first>? AND first<?)" in plan, plan
        elif "name" in lookup:
            assert "ix_mail_name_tokens_token_mailbox (token>? AND token<?)" in plan, plan


@pytest.mark.parametrize("lookup", SEARCHES, ids=str)
def test_searches_read_index_ranges_on_postgresql(tmp_path, postgres_url, lookup):
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin",)) as (cli, be):
        people(cli, be)
        for plan in search_plans(be.engine, cli, lookup):
            assert "Seq Scan" not in plan, plan
            # every index read is bounded by a condition: no walk of a whole index filtering rows
            scans = [part for part in plan.split(" | ") if "Index" in part and "Scan" in part]
            assert scans, plan
            for i, part in enumerate(plan.split(" | ")):
                if "Index" in part and "Scan using" in part:
                    assert "Index Cond" in " ".join(plan.split(" | ")[i:i + 3]), plan
            if lookup in TWO_WORDS:
                assert "ix_mail_name_pairs_first_second_mailbox" in plan, plan
                assert "(first = " in plan, plan  # the whole word's pairs: a range on (first, second)
            elif "name" in lookup:
                assert "ix_mail_name_tokens_token_mailbox" in plan, plan
