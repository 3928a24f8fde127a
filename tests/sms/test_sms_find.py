"""egactl find's sms answers, through the real backend: a phone number → its opt-outs,
group memberships and latest messages (per institution the caller may read, with
state and reason); a sender ID → its institution and state. Admin sees all, an
operator only its institutions, the help desk all of it masked as `sms list`
masks it. Every look-up is an index range, on SQLite and on PostgreSQL."""

from __future__ import annotations

import shlex

import pytest

from egactl.plugin.testing import query_plans

NUMBER = "0754 123 456"
E164 = "+255754123456"
MASKED = "+255754***456"
OTHER = "0754999888"
TEXT = "Cheti chako cha kuzaliwa kiko tayari"


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def hold(cli, backend, tra: bool = True, clock=None):
    """RITA: a delivered and a cancelled message to the number, a group with it as a member;
    TRA: a delivered message to it and its opt-out, and a sender ID waiting for approval.
    With ``clock``, each send a minute after the one before."""
    def tick():
        backend.run_workers()
        if clock:
            clock.advance(minutes=1)

    ok(cli("sms", "senders", "request", "RITA", "-i", "RITA", "--purpose", "notices", role="operator"))
    ok(cli("sms", "senders", "approve", "RITA"))
    ok(cli("sms", "group", "create", "wateja", "-i", "RITA", role="operator"))
    ok(cli("sms", "group", "add-members", "wateja", NUMBER, "-i", "RITA", "--name", "Juma Mrisho", role="operator"))
    ok(cli("sms", "send", "-i", "RITA", "--to", NUMBER, TEXT, role="operator"))
    tick()
    ok(cli("sms", "send", "-i", "RITA", "--to", OTHER, "Si yako", role="operator"))
    tick()
    ok(cli("sms", "send", "-i", "RITA", "--to", NUMBER, "--at", "2026-12-01 09:00", "Baadaye", role="operator"))
    ok(cli("sms", "cancel", "3", "--yes", role="operator"))
    if tra:
        ok(cli("sms", "senders", "request", "TRA", "-i", "TRA", role="operator_tra"))
        ok(cli("sms", "senders", "approve", "TRA"))
        ok(cli("sms", "senders", "request", "TRA KODI", "-i", "TRA", "--purpose", "tax reminders", role="operator_tra"))
        tick()
        ok(cli("sms", "send", "-i", "TRA", "--to", NUMBER, "Kumbusho la kodi", role="operator_tra"))
        tick()
        ok(cli("sms", "optout", "create", NUMBER, "-i", "TRA", "--reason", "replied STOP", role="operator_tra"))


def found(cli, term, role="admin"):
    r = ok(cli("find", term, "--service", "sms", "-o", "json", role=role))
    return r.json()


def by_kind(items):
    out: dict[str, list] = {}
    for f in items:
        assert f["service"] == "sms" and f["rank"] == 100
        out.setdefault(f["kind"], []).append(f)
    return out


def test_a_number_finds_its_messages_optouts_and_groups_for_an_admin(cli, backend):
    hold(cli, backend)
    items = by_kind(found(cli, NUMBER))
    assert set(items) == {"message", "opt-out", "group member"}
    messages = items["message"]
    assert [(m["institution"], m["reference"]) for m in messages] == [("RITA", "1"), ("RITA", "3"), ("TRA", "4")]
    delivered, cancelled, tra = (m["summary"] for m in messages)
    assert tra.startswith(f"to {E164} from TRA: delivered") and '"Kumbusho la kodi"' in tra
    assert cancelled.startswith(f"to {E164} from RITA: cancelled (cancelled by ops@rita.go.tz)")
    assert delivered.startswith(f"to {E164} from RITA: delivered") and f'"{TEXT}"' in delivered
    assert all(OTHER[-3:] not in m["summary"] for m in messages)  # another number's message is not its
    [optout] = items["opt-out"]
    assert (optout["institution"], optout["reference"]) == ("TRA", f"TRA/{E164}")
    assert optout["summary"].startswith(f"{E164} opted out of TRA's messages on 2026-11-22 12:00 EAT (replied STOP)")
    [member] = items["group member"]
    assert (member["institution"], member["reference"]) == ("RITA", "RITA/wateja")
    assert member["summary"] == f"{E164} as Juma Mrisho is in RITA's group 'wateja' since 2026-11-22 12:00 EAT"


def test_the_latest_messages_come_first_within_the_limit(cli, backend, clock):
    hold(cli, backend, clock=clock)
    r = ok(cli("find", NUMBER, "--service", "sms", "--limit", "3", "-o", "json"))
    # the opt-out and the membership always, then the newest message (TRA's, sent last)
    assert sorted((f["kind"], f["reference"]) for f in r.json()) == [
        ("group member", "RITA/wateja"), ("message", "4"), ("opt-out", f"TRA/{E164}")]
    r = ok(cli("find", NUMBER, "--service", "sms", "--limit", "3", "-o", "json", role="operator"))
    assert sorted((f["kind"], f["reference"]) for f in r.json()) == [
        ("group member", "RITA/wateja"), ("message", "1"), ("message", "3")]


def test_one_institutions_campaign_does_not_hide_anothers_message(cli, backend, clock):
    hold(cli, backend, clock=clock)  # TRA's message is the newest
    for i in range(4):
        clock.advance(minutes=1)
        ok(cli("sms", "send", "-i", "RITA", "--to", NUMBER, f"Ujumbe {i}", role="operator"))
    backend.run_workers()
    messages = [f for f in found(cli, NUMBER) if f["kind"] == "message"]
    # RITA's newest three (of six), and TRA's one
    assert sorted((m["institution"], int(m["reference"])) for m in messages) == [
        ("RITA", 6), ("RITA", 7), ("RITA", 8), ("TRA", 4)]


def test_every_command_a_result_names_works(cli, backend):
    hold(cli, backend)
    items = found(cli, NUMBER) + found(cli, "TRA KODI")
    assert len(items) == 6
    for f in items:
        args = shlex.split(f["command"])
        assert args[0] == "egactl"
        r = ok(cli(*args[1:], "-o", "json"))
        assert f["reference"].split("/")[-1] in r.stdout or f["reference"] == E164, f["command"]


def test_an_operator_finds_only_its_institutions(cli, backend):
    hold(cli, backend)
    items = by_kind(found(cli, NUMBER, role="operator"))
    assert {f["institution"] for kind in items.values() for f in kind} == {"RITA"}
    assert [m["reference"] for m in items["message"]] == ["1", "3"]
    assert "opt-out" not in items
    items = by_kind(found(cli, NUMBER, role="operator_tra"))
    assert set(items) == {"message", "opt-out"}
    assert [m["reference"] for m in items["message"]] == ["4"]


def test_the_help_desk_sees_it_all_masked_as_sms_list_does(cli, backend):
    hold(cli, backend)
    r = ok(cli("find", NUMBER, "--service", "sms", "-o", "json", role="helpdesk"))
    for secret in (E164, "754123456", TEXT, "Kumbusho", "Juma", "Mrisho", "replied STOP"):
        assert secret not in r.stdout
    items = by_kind(r.json())
    assert {f["institution"] for kind in items.values() for f in kind} == {"RITA", "TRA"}
    assert [m["summary"].split(",")[0] for m in items["message"]] == [
        f"to {MASKED} from RITA: delivered", f"to {MASKED} from RITA: cancelled (cancelled by ops@rita.go.tz)",
        f"to {MASKED} from TRA: delivered"]
    assert items["group member"][0]["summary"].startswith(f"{MASKED} as J*** M***** is in RITA's group 'wateja'")
    assert items["opt-out"][0]["reference"] == f"TRA/{MASKED}"
    # the read routes find follows show the same: no opt-out reason (the citizen's words), no text
    optouts = ok(cli("sms", "optout", "list", "-o", "json", role="helpdesk")).json()
    assert [(o["phone"], o["reason"]) for o in optouts] == [(MASKED, None)]
    assert ok(cli("sms", "optout", "list", "-o", "json", role="operator_tra")).json()[0]["reason"] == "replied STOP"
    listed = ok(cli("sms", "list", "--to", NUMBER, "-o", "json", role="helpdesk")).json()
    assert {m["to"] for m in listed} == {MASKED} and {m["text"] for m in listed} == {None}
    # and what the help desk is told to run shows more without unmasking
    for f in r.json():
        shown = ok(cli(*shlex.split(f["command"])[1:], "-o", "json", role="helpdesk"))
        assert E164 not in shown.stdout


def test_a_sender_id_finds_its_institution_and_state(cli, backend):
    hold(cli, backend)
    [tra] = found(cli, "TRA KODI")
    assert (tra["kind"], tra["reference"], tra["institution"]) == ("sender ID", "TRA KODI", "TRA")
    assert tra["summary"] == "TRA's sender ID, pending since 2026-11-22 12:00 EAT (tax reminders)"
    assert tra["command"] == "egactl sms senders list -i TRA --state pending"
    [rita] = found(cli, "rita")  # any case
    assert (rita["reference"], rita["summary"]) == ("RITA", "RITA's sender ID, approved since 2026-11-22 12:00 EAT "
                                                            "(notices)")
    assert found(cli, "TRA KODI", role="helpdesk")[0]["summary"] == tra["summary"]
    r = cli("find", "TRA KODI", "--service", "sms", role="operator")  # not its institution's
    assert r.exit_code == 3 and "nothing found for 'TRA KODI'" in r.stderr


def test_a_number_or_sender_sms_does_not_hold_is_nothing_found(cli, backend):
    hold(cli, backend, tra=False)
    for term in ("0754000001", "NOSUCH", "asha said"):
        r = cli("find", term, "--service", "sms")
        assert r.exit_code == 3, (term, r.stdout)


TABLES = ("sms_messages", "sms_optouts", "sms_group_members", "sms_senders", "sms_batches", "sms_groups")


def plans_of(engine, cli, role, term):
    out = {}
    for table in TABLES:
        out[table] = [p for p in query_plans(engine, table, lambda: ok(cli("find", term, "--service", "sms",
                                                                             role=role))) if table in p]
    assert out["sms_messages"] and out["sms_optouts"] and out["sms_group_members"] or term == "RITA"
    return out


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_every_find_look_up_is_an_index_range_on_sqlite(cli, backend, role):
    hold(cli, backend)
    for term in (NUMBER, "RITA"):
        for table, plans in plans_of(backend.engine, cli, role, term).items():
            for plan in plans:
                assert f"SCAN {table}" not in plan, plan
                assert "TEMP B-TREE" not in plan, plan
    plans = plans_of(backend.engine, cli, role, NUMBER)
    assert all("ix_sms_messages_recipient_created_id" in p for p in plans["sms_messages"]), plans["sms_messages"]
    assert all("ix_sms_group_members_phone" in p for p in plans["sms_group_members"])
    # by the number, or (an operator) by institution and number: the unique key
    assert all("ix_sms_optouts_phone" in p or "(institution=? AND phone=?)" in p for p in plans["sms_optouts"]), plans


def test_every_find_look_up_is_an_index_range_on_postgresql(postgres_url):
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        cli.tokens["operator_tra"] = cli.tokens["admin"]
        hold(cli, be)
        for role in ("admin", "operator"):
            for term in (NUMBER, "RITA"):
                for table, plans in plans_of(be.engine, cli, role, term).items():
                    for plan in plans:
                        assert "Seq Scan" not in plan and "Sort" not in plan, plan
