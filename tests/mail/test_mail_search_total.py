"""`mail list --search`: the rows, and the total its first page announces ("showing 2 of N"), are
exactly those of a brute-force filter over every stored mailbox, in every state, on SQLite and PostgreSQL.

The total of a search over every institution counts the name matches from the name index
alone (`search.counted`): a purged mailbox has no names, so no rows there, and the list's
status test on each matching mailbox's row (O(matches) reads of the table: 4 ms at
national size for "juma mr") is not needed for them. These tests hold that to the
list itself over mailboxes active, suspended, deleted, purged (a tombstone keeps its old
address, which a search's address reading can start) and erased, with aliases, as the
admin and the help desk (the counted path) and an operator (the list's own count).
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from egactl.plugin.rules import name_matches
from egactl_mail import rules
from egactl_mail.server.models import MailAddress, Mailbox
from tests.mail.domains import add_domains

GIVEN = ["Juma", "Jumanne", "Juma Hassan", "Mrisho", "Asha", "Neema", "Mrema"]
FAMILY = ["Mrisho", "Mrema", "Juma", "Kweka", "Mushi", "Mrisho-Juma"]
QUERIES = ["juma mr", "Mrisho Juma", "mr juma", "ju mr", "juma", "jumanne", "mrisho ju has", "mr mr", "juma juma",
           "juma.mr", "juma.mrisho@rita.go.tz", "help", "111000003", "111000007", "zzz",
           "neema", "mrema.mr", "mrisho.mrisho"]  # these three start purged mailboxes' old addresses too


def seed(cli, backend, clock, tmp_path) -> None:
    """40 people of a few names in RITA and TRA, then some suspended, deleted, purged, erased, aliased."""
    add_domains(backend)
    pick = random.Random(14)
    lines = ["institution,employee_number,given_name,family_name"]
    for i in range(40):
        lines.append(f"{pick.choice(['RITA', 'TRA'])},{111000000 + i},{pick.choice(GIVEN)},{pick.choice(FAMILY)}")
    staff = tmp_path / "staff.csv"
    staff.write_text("\n".join(lines) + "\n")
    r = cli("mail", "import", str(staff))
    assert r.exit_code == 0, r.stderr
    address = {m["employee_number"]: m["address"] for m in cli("mail", "list", "--all", "-o", "json").json()}
    assert len(address) == 40

    def act(*args):
        r = cli("mail", *args)
        assert r.exit_code == 0, (args, r.stderr)

    act("alias", "create", address["111000012"], "help.juma")
    act("alias", "create", address["111000004"], "juma.mrisho.old")  # of a mailbox that will be purged
    for n in (1, 2, 5):
        act("suspend", address[f"11100000{n}"], "--yes")
    for n in (3, 4, 6, 8, 9, 10, 11):
        act("delete", address[f"1110000{n:02}"], "--yes")
    clock.advance(days=91)  # past the retention of a deleted mailbox
    for n in (3, 4, 8):
        act("purge", address[f"11100000{n}"], "--yes")
    r = cli("privacy", "erase", "111000009", "--case", "PDPA-14", "--yes")  # a deleted mailbox, blanked
    assert r.exit_code == 0, r.stderr
    with backend.read_sessions() as s:
        states = {m.status for m in s.scalars(select(Mailbox))}
        erased = s.scalar(select(Mailbox).where(Mailbox.address == address["111000009"]))
    assert states == {"active", "suspended", "deleted", "purged"} and erased.given_name is None


def brute_force(backend, q: str, institutions: set[str] | None) -> list[str]:
    """The addresses ``q`` finds, by reading every mailbox and claim: the list's meaning in plain Python."""
    text = q.strip()
    with backend.read_sessions() as s:
        boxes = list(s.scalars(select(Mailbox).order_by(Mailbox.id)))
        claims: dict[int, list[str]] = {}
        for c in s.scalars(select(MailAddress).where(MailAddress.mailbox_id.is_not(None))):
            claims.setdefault(c.mailbox_id, []).append(c.address)
    found = []
    for m in boxes:
        if m.status == rules.PURGED or (institutions is not None and m.institution not in institutions):
            continue
        if "@" in text:
            start = rules.normalise_address(text)
            hit = any(a.startswith(start) for a in claims.get(m.id, [])) or m.address == start
        else:
            start = text.lower()
            hit = (m.employee_number == rules.normalise_employee_number(text)
                   or any(a.startswith(start) for a in claims.get(m.id, [])) or m.address.startswith(start)
                   or name_matches(text, " ".join(n for n in (m.preferred_name, m.given_name, m.family_name) if n)))
        if hit:
            found.append(m.address)
    return found


def check(cli, backend, role: str, institutions: set[str] | None) -> None:
    seen_totals = 0
    for q in QUERIES:
        expected = brute_force(backend, q, institutions)
        r = cli("mail", "list", "--search", q, "--all", "-o", "json", role=role)
        assert r.exit_code == 0, (q, r.stderr)
        assert [m["address"] for m in r.json()] == expected, q
        first = cli("mail", "list", "--search", q, "--limit", "2", role=role)
        assert first.exit_code == 0, (q, first.stderr)
        told = [line for line in first.stderr.splitlines() if line.startswith("showing")]
        if len(expected) > 2:
            assert told == [f"showing 2 of {len(expected)}; --limit N or --all"], (q, first.stderr)
            seen_totals += 1
        else:
            assert told == [], (q, first.stderr)
    assert seen_totals >= 5  # the seed gives the totals something to count


@pytest.mark.parametrize("role, institutions", [("admin", None), ("helpdesk", None), ("operator", {"RITA"})])
def test_a_search_lists_and_counts_what_a_brute_force_filter_finds_on_sqlite(cli, backend, clock, tmp_path, role,
                                                                              institutions):
    seed(cli, backend, clock, tmp_path)
    check(cli, backend, role, institutions)


def test_a_search_lists_and_counts_what_a_brute_force_filter_finds_on_postgresql(postgres_url, tmp_path):
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        seed(cli, be, be.clock, tmp_path)
        check(cli, be, "admin", None)
        check(cli, be, "operator", {"RITA"})
