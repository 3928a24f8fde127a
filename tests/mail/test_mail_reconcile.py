"""mail reconcile: the HR roster against the mailboxes — exact plans on 5,000 staff, apply, the safety brake."""

from __future__ import annotations

import csv
import random

import pytest
from sqlalchemy import select

from egactl_mail.server.models import MailAddress, Mailbox, MailDomain

GIVEN = ["Juma", "Neema", "Baraka", "Zuhura", "Asha", "Hamisi", "Rehema", "Daudi", "Upendo", "Salma", "Emmanuel",
         "Mwanaidi", "Faraji", "Imani", "Joseph", "Halima", "Khamis", "Grace", "Said", "Mariam"]
FAMILY = ["Mrisho", "Kweka", "Mwakyusa", "Ng'wanakilala", "Massawe", "Mushi", "Lyimo", "Shayo", "Komba", "Mbwana",
          "Nyirenda", "Temba", "Kimaro", "Mollel", "Swai", "Minja", "Chacha", "Magesa", "Mfinanga", "Urassa",
          "Mwinyi", "Kombo", "Lema", "Mallya", "Tarimo"]
DEPARTMENTS = ["ICT", "Finance", "HR", "Legal", "Registration", "Procurement", "Audit", "Planning"]
COLUMNS = ["employee_number", "institution", "given_name", "family_name", "department", "title"]


def staff(n: int, seed: int = 5, start: int = 0) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    return [{"employee_number": str(110000000 + start + i), "institution": "RITA", "given_name": rnd.choice(GIVEN),
             "family_name": rnd.choice(FAMILY), "department": rnd.choice(DEPARTMENTS), "title": "Officer"}
            for i in range(n)]


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def domains(backend):
    with backend.write_sessions() as s:
        for code, domain in (("RITA", "rita.go.tz"), ("TRA", "tra.go.tz")):
            s.add(MailDomain(domain=domain, institution=code, naming_rule="given.family", is_primary=True,
                             created_at=backend.now()))
        s.commit()


def mailboxes(backend) -> dict[str, Mailbox]:
    with backend.read_sessions() as s:
        return {m.employee_number: m for m in s.scalars(select(Mailbox))}


def by_action(plan) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a in plan["actions"]:
        out.setdefault(a["action"], set()).add(a["employee_number"])
    return out


def run(cli, roster, *extra, role="admin"):
    return cli("mail", "reconcile", "--roster", str(roster), "-i", "RITA", *extra, "-o", "json", role=role)


def test_reconcile_5000_staff(cli, backend, domains, tmp_path):
    roster0 = staff(5000)
    first = write(tmp_path / "hcmis0.csv", roster0)
    r = run(cli, first)
    assert r.exit_code == 0, r.stderr
    plan = r.json()
    assert plan["counts"]["create"] == 5000 and not plan["applied"]
    planned_addresses = {a["employee_number"]: a["address"] for a in plan["actions"]}
    assert len(set(planned_addresses.values())) == 5000
    assert mailboxes(backend) == {}

    r = run(cli, first, "--apply", "--yes")
    assert r.exit_code == 0, r.stderr
    assert r.json()["applied"] and r.json()["counts"]["create"] == 5000
    stored = mailboxes(backend)
    assert len(stored) == 5000 and {m.status for m in stored.values()} == {"active"}
    # apply made exactly the addresses the plan showed
    assert {n: m.address for n, m in stored.items()} == planned_addresses

    # The next month's roster: 40 leave, 120 join, 150 change department, 10 transfer to TRA.
    rnd = random.Random(7)
    leavers = set(rnd.sample([p["employee_number"] for p in roster0], 40))
    remaining = [dict(p) for p in roster0 if p["employee_number"] not in leavers]
    movers = rnd.sample(remaining, 160)
    for p in movers[:150]:
        p["department"] = next(d for d in DEPARTMENTS if d != p["department"])
    for p in movers[150:]:
        p["institution"] = "TRA"
    joiners = staff(120, seed=9, start=5000)
    second = write(tmp_path / "hcmis1.csv", remaining + joiners)
    r = run(cli, second)
    assert r.exit_code == 0, r.stderr
    plan = r.json()
    assert {k: plan["counts"][k] for k in ("create", "suspend", "update", "restore", "skip")} == \
        {"create": 120, "suspend": 40, "update": 160, "restore": 0, "skip": 0}
    assert by_action(plan) == {"create": {p["employee_number"] for p in joiners}, "suspend": leavers,
                               "update": {p["employee_number"] for p in movers}}
    assert plan["brake"] == {"active": 5000, "suspensions": 40, "limit": 50, "tripped": False, "overridden": False}
    transfer = next(a for a in plan["actions"] if a["changes"] and "institution" in a["changes"])
    assert transfer["changes"]["institution"] == ["RITA", "TRA"]
    assert transfer["changes"]["address"][1].endswith("@tra.go.tz")
    assert all(m.version == 1 for m in mailboxes(backend).values())  # a plan changes nothing

    r = run(cli, second, "--apply", "--yes")
    assert r.exit_code == 0, r.stderr
    stored = mailboxes(backend)
    assert len(stored) == 5120
    assert {n for n, m in stored.items() if m.status == "suspended"} == leavers
    assert {stored[n].suspended_by for n in leavers} == {"reconcile"}
    for p in movers[:150]:
        assert stored[p["employee_number"]].department == p["department"]
    moved = stored[movers[150]["employee_number"]]
    assert moved.institution == "TRA" and moved.address.endswith("@tra.go.tz")
    with backend.read_sessions() as s:
        old = s.scalar(select(MailAddress).where(MailAddress.mailbox_id == moved.id, MailAddress.kind == "alias"))
    assert old.address == planned_addresses[movers[150]["employee_number"]]

    # A second run plans nothing.
    r = run(cli, second)
    assert r.exit_code == 0, r.stderr
    assert r.json()["actions"] == []
    # the 10 transferred are TRA's now: outside this run's scope (-i RITA)
    assert r.json()["counts"]["unchanged"] == 5070 and r.json()["counts"]["other_institutions"] == 10

    # A truncated export (30% missing) trips the brake and changes nothing.
    truncated = write(tmp_path / "hcmis2.csv", (remaining + joiners)[: int(0.7 * 5070)])
    before = {n: (m.status, m.version) for n, m in mailboxes(backend).items()}
    r = run(cli, truncated)
    assert r.exit_code == 0, r.stderr
    assert r.json()["brake"]["tripped"] and r.json()["counts"]["suspend"] > 1000
    assert "safety brake" in r.stderr
    r = run(cli, truncated, "--apply", "--yes")
    assert r.exit_code == 5
    assert "safety brake" in r.stderr and "nothing was changed" in r.stderr and "--allow-mass-suspend" in r.stderr
    assert {n: (m.status, m.version) for n, m in mailboxes(backend).items()} == before


def test_returners_manual_suspensions_and_override(cli, backend, domains, tmp_path):
    roster = staff(30)
    full = write(tmp_path / "full.csv", roster)
    assert run(cli, full, "--apply", "--yes").exit_code == 0
    manual = roster[0]["employee_number"]
    assert cli("mail", "suspend", manual, "--yes").exit_code == 0
    # 3 of 30 gone: over the brake's limit (max(1, 5% of 30) = 1) …
    short = write(tmp_path / "short.csv", roster[:27])
    r = run(cli, short, "--apply", "--yes")
    assert r.exit_code == 5
    # … unless the override says the roster is right
    r = run(cli, short, "--apply", "--yes", "--allow-mass-suspend")
    assert r.exit_code == 0, r.stderr
    assert r.json()["brake"]["overridden"] is True
    # back on the roster: reconcile restores what it suspended, never a manual suspension
    r = run(cli, full, "--apply", "--yes")
    assert r.exit_code == 0, r.stderr
    assert by_action(r.json()) == {"restore": {p["employee_number"] for p in roster[27:]}}
    stored = mailboxes(backend)
    assert stored[manual].status == "suspended"
    assert all(stored[p["employee_number"]].status == "active" for p in roster[1:])


def test_apply_needs_yes_bad_rosters_exit_2_and_operators_stay_in_scope(cli, backend, domains, tmp_path):
    roster = write(tmp_path / "r.csv", staff(3))
    r = cli("mail", "reconcile", "--roster", str(roster), "-i", "RITA", "--apply")
    assert r.exit_code == 2 and "--yes" in r.stderr
    dup = write(tmp_path / "dup.csv", staff(3) + staff(1))
    r = cli("mail", "reconcile", "--roster", str(dup), "-i", "RITA")
    assert r.exit_code == 2 and "line 5: duplicate of line 2" in r.stderr
    r = run(cli, roster, "--apply", "--yes", role="operator_tra")
    assert r.exit_code == 4
    assert mailboxes(backend) == {}
    r = run(cli, roster, "--apply", "--yes", role="operator")
    assert r.exit_code == 0, r.stderr
    assert len(mailboxes(backend)) == 3
