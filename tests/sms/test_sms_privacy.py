"""sms's part of egactl privacy, through the real backend and commands: a subject's report,
erasure (the number leaves contact groups, its messages keep only a pseudonym, its opt-out
stays an opt-out: single, group and bulk sends still skip it), and retention with the
injected clock (past 12 months pseudonymised, before not; reports still count; each run
reads only what it changes, on SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from egactl.plugin.testing import query_plans
from egactl_sms.server.models import Batch, GroupMember, Message, OptOut, OutboxEntry

NUMBER = "0754 123 456"
E164 = "+255754123456"
OTHER = "+255754999888"
TEXT = "Cheti chako cha kuzaliwa kiko tayari"
TRA_TEXT = "Kumbusho la kodi"
TABLES = (Message, OptOut, GroupMember, OutboxEntry, Batch)


def ok(r):
    assert r.exit_code == 0, r.stderr + r.stdout
    return r


def hold(cli, backend):
    """RITA: a delivered quick send and a scheduled one to the number, the number in group
    'wateja' with a name, another number's message; TRA: a delivered send and an opt-out."""
    ok(cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator"))
    ok(cli("sms", "senders", "approve", "RITA"))
    ok(cli("sms", "senders", "request", "TRA", "-i", "TRA", role="operator_tra"))
    ok(cli("sms", "senders", "approve", "TRA"))
    ok(cli("sms", "group", "create", "wateja", "-i", "RITA", role="operator"))
    ok(cli("sms", "group", "add-members", "wateja", NUMBER, "-i", "RITA", "--name", "Juma Mrisho", role="operator"))
    ok(cli("sms", "group", "add-members", "wateja", OTHER, "-i", "RITA", role="operator"))
    ok(cli("sms", "send", "-i", "RITA", "--to", NUMBER, TEXT, role="operator"))
    ok(cli("sms", "send", "-i", "RITA", "--to", OTHER, "Si yako", role="operator"))
    ok(cli("sms", "send", "-i", "RITA", "--to", NUMBER, "--at", "2026-12-01 09:00", "Baadaye", role="operator"))
    ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, TRA_TEXT, role="operator_tra"))
    backend.run_workers()
    ok(cli("sms", "optout", "create", NUMBER, "-i", "TRA", "--reason", "replied STOP", role="operator_tra"))


def report(cli, role="admin"):
    r = ok(cli("privacy", "report", NUMBER, "--case", "PDPA-1", "-o", "json", role=role))
    return [i for i in r.json()["items"] if i["service"] == "sms"]


def erase(cli, *args):
    return ok(cli("privacy", "erase", NUMBER, "--case", "PDPA-1", "--yes", *args, "-o", "json")).json()["erased"]["sms"]


def rows(backend, model):
    with backend.read_sessions() as s:
        return s.scalars(select(model).order_by(model.id)).all()


def values(backend) -> str:
    """Every stored value of every sms table that can hold personal data, as one text."""
    out = []
    for model in TABLES:
        for row in rows(backend, model):
            out.append(json.dumps({c.name: getattr(row, c.key) for c in model.__table__.columns}, default=str))
    return "\n".join(out)


def pseudonym_of(backend, number):
    from egactl.plugin.server import pseudonym

    with backend.read_sessions() as s:
        return pseudonym(number, s)


def test_a_report_finds_everything_sms_holds_about_the_number(cli, backend):
    hold(cli, backend)
    items = report(cli)
    kinds = sorted((i["kind"], i["institution"], i["reference"]) for i in items)
    assert kinds == [("group member", "RITA", "RITA/wateja"), ("message", "RITA", "1"), ("message", "RITA", "3"),
                     ("message", "TRA", "4"), ("opt-out", "TRA", f"TRA/{E164}"),
                     ("outbox entry", "RITA", "1"), ("outbox entry", "TRA", "3")]
    data = {(i["kind"], i["reference"]): i["data"] for i in items}
    assert (data[("message", "1")]["to"], data[("message", "1")]["text"], data[("message", "1")]["state"]) == (
        E164, TEXT, "delivered")
    assert (data[("message", "3")]["state"], data[("message", "3")]["text"]) == ("queued", "Baadaye")
    assert data[("message", "4")]["text"] == TRA_TEXT
    assert data[("opt-out", f"TRA/{E164}")]["reason"] == "replied STOP"
    member = data[("group member", "RITA/wateja")]
    assert (member["group"], member["phone"], member["name"]) == ("wateja", E164, "Juma Mrisho")
    assert (data[("outbox entry", "3")]["to"], data[("outbox entry", "3")]["text"]) == (E164, TRA_TEXT)
    assert OTHER not in json.dumps(items)


def test_a_report_shows_an_operator_only_its_institutions_and_the_help_desk_nothing(cli, backend):
    hold(cli, backend)
    assert {i["institution"] for i in report(cli, role="operator")} == {"RITA"}
    assert {i["institution"] for i in report(cli, role="operator_tra")} == {"TRA"}
    r = cli("privacy", "report", NUMBER, "--case", "PDPA-1", role="helpdesk")
    assert r.exit_code == 4


def test_erase_leaves_only_pseudonyms_and_keeps_states_counts_and_the_opt_out(cli, backend):
    hold(cli, backend)
    before = {b.id: (b.messages, b.segments, b.opted_out) for b in rows(backend, Batch)}
    states = {m.id: (m.state, m.segments) for m in rows(backend, Message)}
    dry = erase(cli, "--dry-run")
    assert dry == {"group memberships removed": 1, "queued messages cancelled": 1,
                        "messages pseudonymised": 3, "quick-send texts dropped": 3,
                        "opt-outs kept as pseudonyms": 1, "outbox entries pseudonymised": 2}
    assert E164 in values(backend)  # a dry run changes nothing
    assert erase(cli) == dry

    stored = values(backend)
    for personal in (E164, TEXT, TRA_TEXT, "Juma Mrisho", "replied STOP"):
        assert personal not in stored
    hashed = pseudonym_of(backend, E164)
    assert hashed.startswith("~") and len(hashed) == 16
    assert {m.recipient for m in rows(backend, Message) if m.id != 2} == {hashed}
    assert {m.body for m in rows(backend, Message) if m.id != 2} == {""}
    assert {m.id: (m.state, m.segments) for m in rows(backend, Message)} == states | {3: ("cancelled", 1)}
    assert {b.id: (b.messages, b.segments, b.opted_out) for b in rows(backend, Batch)} == before
    assert [(o.institution, o.phone, o.reason) for o in rows(backend, OptOut)] == [("TRA", hashed, None)]
    assert [m.phone for m in rows(backend, GroupMember)] == [OTHER]
    assert {o.recipient for o in rows(backend, OutboxEntry)} == {hashed, OTHER}
    # the other number's message is untouched
    other = [m for m in rows(backend, Message) if m.id == 2][0]
    assert (other.recipient, other.body) == (OTHER, "Si yako")
    # a second report finds only pseudonyms
    again = report(cli)
    text = json.dumps(again)
    assert E164 not in text and TEXT not in text and "Juma" not in text
    assert sorted((i["kind"], i["reference"]) for i in again) == [
        ("message", "1"), ("message", "3"), ("message", "4"), ("opt-out", f"TRA/{hashed}"),
        ("outbox entry", "1"), ("outbox entry", "3")]
    assert {i["data"].get("to", i["data"].get("phone")) for i in again} == {hashed}
    # sms report still counts what was sent
    rep = ok(cli("sms", "report", "4", "-o", "json")).json()
    assert rep["messages"] == 1 and rep["states"]["delivered"] == 1


def test_erase_cancels_what_is_still_queued_to_the_number(cli, backend):
    hold(cli, backend)
    erase(cli)
    [queued] = [m for m in rows(backend, Message) if m.id == 3]
    assert (queued.state, queued.reason, queued.body) == ("cancelled", "cancelled: the recipient's personal data "
                                                                       "was erased", "")
    states = ok(cli("sms", "report", "3", "-o", "json")).json()["states"]  # the batch's counters follow
    assert (states["queued"], states["cancelled"]) == (0, 1)


def test_an_erased_opt_out_still_refuses_single_group_and_bulk_sends(cli, backend, tmp_path):
    hold(cli, backend)
    erase(cli)
    assert E164 not in values(backend)
    # single; the opt-outs are read by index (is any kept as a pseudonym? which of these numbers?)
    sends = []
    plans = query_plans(backend.engine, "sms_optouts", lambda: sends.append(
        ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, "Tena", "-o", "json", role="operator_tra"))))
    assert plans and all("SCAN sms_optouts" not in p for p in plans), plans
    assert sends[0].json()["messages"] == 0 and sends[0].json()["skipped"]["opted_out"] == 1
    # group
    ok(cli("sms", "group", "create", "walipakodi", "-i", "TRA", role="operator_tra"))
    ok(cli("sms", "group", "add-members", "walipakodi", f"{NUMBER},0754000111", "-i", "TRA", role="operator_tra"))
    r = ok(cli("sms", "send", "-i", "TRA", "--group", "walipakodi", "--allow-quiet-hours", "Kwa wote", "-o", "json",
               role="operator_tra"))
    assert r.json()["messages"] == 1 and r.json()["skipped"]["opted_out"] == 1
    # bulk
    path = tmp_path / "walipakodi.csv"
    path.write_text(f"phone,name\n{E164},Juma\n0754000222,Asha\n", encoding="utf-8")
    r = ok(cli("sms", "bulk", str(path), "-i", "TRA", "--template", "Habari {name}", "--allow-quiet-hours",
               "-o", "json", role="operator_tra"))
    assert r.json()["statuses"] == {"queued": 1, "opted_out": 1}
    sent_to = {m.recipient for m in rows(backend, Message) if m.institution == "TRA"}
    assert E164 not in sent_to and "+255754000111" in sent_to and "+255754000222" in sent_to
    # RITA never had an opt-out: it may still send to the number
    r = ok(cli("sms", "send", "-i", "RITA", "--to", NUMBER, "Habari", "-o", "json", role="operator"))
    assert r.json()["messages"] == 1


# -- retention --------------------------------------------------------------------------------


def due(cli):
    """What the next retention run would touch, per sms data class (`privacy retention show`)."""
    shown = ok(cli("privacy", "retention", "show", "-o", "json")).json()
    return {r["name"]: r["due"] for r in shown if r["service"] == "sms"}


NOTHING_DUE = {"messages": 0, "texts": 0, "outbox": 0}


def run(backend):
    """A retention run, as the server makes it (with the delivery worker's round)."""
    backend.run_workers()


@pytest.fixture
def small_runs(monkeypatch):
    from egactl.server import retention

    monkeypatch.setattr(retention, "BATCH", 2)


def test_retention_pseudonymises_after_a_year_not_before_and_reports_still_count(cli, backend, clock, small_runs):
    hold(cli, backend)
    report_before = ok(cli("sms", "report", "1", "-o", "json")).json()
    shown = ok(cli("privacy", "retention", "show", "-o", "json")).json()
    assert [(r["name"], r["days"], r["after"]) for r in shown if r["service"] == "sms"] == [
        ("messages", 365, "after delivery (from the time it was due to go)"), ("texts", 365, "after the send"),
        ("outbox", 365, "after it was handed over")]
    clock.advance(days=364)
    assert due(cli) == NOTHING_DUE
    run(backend)
    assert E164 in values(backend) and TEXT in values(backend)  # before the period: kept
    clock.advance(days=2)
    # message 3 was due to go on 1 December: not a year yet; the rest is
    assert due(cli) == {"messages": 3, "texts": 4, "outbox": 3}
    run(backend)
    assert due(cli) == {"messages": 1, "texts": 2, "outbox": 1}  # bounded: 2 a class a run
    run(backend)
    assert due(cli) == NOTHING_DUE
    run(backend)  # idempotent: nothing more changes
    hashed = pseudonym_of(backend, E164)
    got = {m.id: (m.recipient, m.body, m.state) for m in rows(backend, Message)}
    assert got[1] == (hashed, "", "delivered") and got[4] == (hashed, "", "delivered")
    assert got[2] == (pseudonym_of(backend, OTHER), "", "delivered")
    assert got[3] == (E164, "Baadaye", "expired")  # never sent; due to go on 1 December: a year later
    assert {o.recipient for o in rows(backend, OutboxEntry)} == {hashed, pseudonym_of(backend, OTHER)}
    assert {o.body for o in rows(backend, OutboxEntry)} == {""}
    clock.advance(days=10)
    assert due(cli)["messages"] == 1
    run(backend)
    assert due(cli) == NOTHING_DUE and TEXT not in values(backend) and "Baadaye" not in values(backend)
    # counts, states and costs stay
    report_after = ok(cli("sms", "report", "1", "-o", "json")).json()
    for key in ("messages", "segments", "states", "estimated_cost", "skipped"):
        assert report_after[key] == report_before[key]
    # the opt-out (in force, not expired) still blocks a send; contact groups stay as they are
    r = ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, "Tena", "-o", "json", role="operator_tra"))
    assert r.json()["messages"] == 0 and r.json()["skipped"]["opted_out"] == 1
    assert E164 in {m.phone for m in rows(backend, GroupMember)}


def test_after_retention_and_erasure_an_opt_out_still_blocks_every_send(cli, backend, clock, tmp_path):
    hold(cli, backend)
    clock.advance(days=400)
    run(backend)
    run(backend)
    erase(cli)
    r = ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, "Tena", "-o", "json", role="operator_tra"))
    assert r.json()["messages"] == 0 and r.json()["skipped"]["opted_out"] == 1


def test_after_retention_the_report_finds_only_pseudonyms(cli, backend, clock):
    hold(cli, backend)
    clock.advance(days=400)
    run(backend)  # the scheduled message expires, long past its time
    run(backend)
    items = report(cli)
    text = json.dumps(items)
    assert TEXT not in text and TRA_TEXT not in text
    assert {i["kind"] for i in items} == {"message", "outbox entry", "opt-out", "group member"}
    assert {i["data"]["to"] for i in items if i["kind"] == "message"} == {pseudonym_of(backend, E164)}


def _retention_plans(engine, cli, backend):
    plans = {}
    for table in ("sms_messages", "sms_outbox", "sms_batches"):
        plans[table] = [p for p in query_plans(engine, table, lambda: (run(backend), due(cli))) if table in p]
        assert plans[table], table
    return plans


def test_a_retention_run_reads_only_what_it_changes_on_sqlite(cli, backend, clock):
    hold(cli, backend)
    clock.advance(days=400)
    plans = _retention_plans(backend.engine, cli, backend)
    for table, found in plans.items():
        retained = [p for p in found if "unexpired" in p or "kept_text" in p]
        assert retained, found
        for plan in retained:
            assert f"SCAN {table}" not in plan, plan
    assert any("ix_sms_messages_unexpired_deliver_after_id" in p for p in plans["sms_messages"]), plans
    assert any("ix_sms_outbox_unexpired_sent_id" in p for p in plans["sms_outbox"]), plans
    assert any("ix_sms_batches_kept_text_created_id" in p for p in plans["sms_batches"]), plans


def test_a_retention_run_reads_only_what_it_changes_on_postgresql(postgres_url):
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        cli.tokens["operator_tra"] = cli.tokens["admin"]
        hold(cli, be)
        be.clock.advance(days=400)
        plans = _retention_plans(be.engine, cli, be)
        for table, found in plans.items():
            retained = [p for p in found if "unexpired" in p or "kept_text" in p]
            assert retained, found
            for plan in retained:
                assert "Seq Scan" not in plan and "Sort" not in plan, plan


def test_an_erased_opt_out_blocks_sends_after_a_restart_even_when_a_dry_run_came_first(cli, backend):
    """The first use of the pseudonym key was a dry run (rolled back): the key the real erasure
    used must be the one the database keeps, or after a restart the opt-out would not match."""
    from egactl.server import privacy

    hold(cli, backend)
    privacy._keys.clear()  # a server that has not used its key yet
    with backend.write_sessions() as s:  # and has none yet: this database's first use of it
        from egactl.server.models import ServerSecret

        s.query(ServerSecret).delete()
        s.commit()
    erase(cli, "--dry-run")
    erase(cli)
    privacy._keys.clear()  # the server restarts
    r = ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, "Tena", "-o", "json", role="operator_tra"))
    assert r.json()["messages"] == 0 and r.json()["skipped"]["opted_out"] == 1


def test_an_erasure_committing_during_a_send_cannot_slip_past_its_opt_out_check_on_postgresql(postgres_url):
    """The send reads the opt-outs in two steps; the erasure (number → pseudonym) commits right
    after the first. Whichever the first step is, the number must be found opted out."""
    from sqlalchemy import event, text

    from egactl.plugin.server import pseudonym
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        cli.tokens["operator_tra"] = cli.tokens["admin"]
        hold(cli, be)
        with be.write_sessions() as s:
            hashed = pseudonym(E164, s)  # (TRA keeps no opt-out as a pseudonym yet)
            s.commit()
        erased = []

        def erase_now(conn, cursor, statement, parameters, context, executemany):
            if not erased and "FROM sms_optouts" in statement and statement.lstrip().upper().startswith("SELECT"):
                erased.append(statement)
                with be.engine.connect() as other:  # another request's erasure commits
                    other.execute(text("UPDATE sms_optouts SET phone = :p WHERE institution = 'TRA' AND phone = :n"),
                                  {"p": hashed, "n": E164})
                    other.commit()

        event.listen(be.engine, "after_cursor_execute", erase_now)
        try:
            r = ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, "Tena", "-o", "json", role="operator_tra"))
        finally:
            event.remove(be.engine, "after_cursor_execute", erase_now)
        assert erased
        assert r.json()["messages"] == 0 and r.json()["skipped"]["opted_out"] == 1


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_a_report_reads_sms_by_index_on_sqlite(cli, backend, role):
    hold(cli, backend)
    for table in ("sms_messages", "sms_optouts", "sms_group_members", "sms_outbox"):
        plans = [p for p in query_plans(backend.engine, table, lambda: report(cli, role=role)) if table in p]
        assert plans, table
        for plan in plans:
            assert f"SCAN {table}" not in plan, plan


def test_erase_and_the_pseudonymised_opt_out_on_postgresql(postgres_url):
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        cli.tokens["operator_tra"] = cli.tokens["admin"]
        hold(cli, be)
        assert erase(cli) == {"group memberships removed": 1, "queued messages cancelled": 1,
                              "messages pseudonymised": 3, "quick-send texts dropped": 3,
                              "opt-outs kept as pseudonyms": 1, "outbox entries pseudonymised": 2}
        stored = values(be)
        for personal in (E164, TEXT, TRA_TEXT, "Juma Mrisho", "replied STOP"):
            assert personal not in stored
        r = ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, "Tena", "-o", "json", role="operator_tra"))
        assert r.json()["messages"] == 0 and r.json()["skipped"]["opted_out"] == 1
        assert {i["data"].get("to", i["data"].get("phone")) for i in report(cli)} == {pseudonym_of(be, E164)}


def test_an_erased_number_is_still_found_opted_out_and_can_opt_in_again(cli, backend):
    hold(cli, backend)
    erase(cli)
    hashed = pseudonym_of(backend, E164)
    listed = ok(cli("sms", "optout", "list", "--phone", NUMBER, "-o", "json", role="operator_tra")).json()
    assert [(o["institution"], o["phone"]) for o in listed] == [("TRA", hashed)]
    [found] = [f for f in ok(cli("find", NUMBER, "--service", "sms", "-o", "json")).json() if f["kind"] == "opt-out"]
    assert found["summary"].startswith(f"{E164} opted out of TRA's messages on ")
    assert found["summary"].endswith("(kept as a pseudonym: the person's data was erased)")
    helpdesk = ok(cli("find", NUMBER, "--service", "sms", "-o", "json", role="helpdesk")).json()
    assert [f["summary"].split(" opted out")[0] for f in helpdesk if f["kind"] == "opt-out"] == ["+255754***456"]
    # the person asks TRA for its messages again: its operator opts the number back in
    ok(cli("sms", "optout", "delete", NUMBER, "-i", "TRA", "--yes", role="operator_tra"))
    assert rows(backend, OptOut) == []
    r = ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, "Karibu tena", "-o", "json", role="operator_tra"))
    assert r.json()["messages"] == 1


def test_retention_show_stops_counting_at_the_cap_and_says_more_than(cli, backend, clock, monkeypatch):
    """Before: every due row was counted (1.06 s for a backlog of 4.77M messages at national
    size). Now each class counts no further than the cap, as a list's total does, and says
    "more than" past it. The cap is set to 2 here: 3 messages, 4 texts and 3 outbox entries are due."""
    from egactl.server import pagination

    hold(cli, backend)
    clock.advance(days=366)
    monkeypatch.setattr(pagination, "COUNT_UP_TO", 2)
    shown = {r["name"]: r for r in ok(cli("privacy", "retention", "show", "-o", "json")).json()
             if r["service"] == "sms"}
    assert {name: (r["due"], r["due_at_least"]) for name, r in shown.items()} == {
        "messages": (2, True), "texts": (2, True), "outbox": (2, True)}
    table = ok(cli("privacy", "retention", "show")).stdout
    assert [line.split()[-3:] for line in table.splitlines() if line.startswith("sms")] == [["more", "than", "2"]] * 3
    monkeypatch.setattr(pagination, "COUNT_UP_TO", 10)
    assert due(cli) == {"messages": 3, "texts": 4, "outbox": 3}  # under the cap: exact, as before
    assert not any(r["due_at_least"] for r in ok(cli("privacy", "retention", "show", "-o", "json")).json())
