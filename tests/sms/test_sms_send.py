"""sms send: quick and group sends through the commands and the real backend."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_sms.server.models import Batch, Message, OutboxEntry


@pytest.fixture
def sender(cli):
    """RITA's sender ID, requested by its operator and approved by e-GA."""
    r = cli("sms", "senders", "request", "RITA", "-i", "RITA", "--purpose", "birth certificates", role="operator")
    assert r.exit_code == 0, r.stderr
    r = cli("sms", "senders", "approve", "RITA")
    assert r.exit_code == 0, r.stderr
    return "RITA"


def messages(backend, **where):
    with backend.read_sessions() as s:
        stmt = select(Message).order_by(Message.id)
        for k, val in where.items():
            stmt = stmt.where(getattr(Message, k) == val)
        return s.scalars(stmt).all()


def outbox(backend):
    with backend.read_sessions() as s:
        return s.scalars(select(OutboxEntry).order_by(OutboxEntry.id)).all()


def count(backend, model):
    with backend.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_quick_send_queues_dedupes_and_delivers_to_the_outbox(cli, backend, sender):
    r = cli("sms", "send", "--to", "0754123456,+255754123456", "--to", "0655123456", "-i", "RITA",
            "Habari, cheti chako kiko tayari.", "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    out = r.json()
    assert out["messages"] == 2 and out["skipped"]["duplicate"] == 1
    assert [m["to"] for m in out["recipients"]] == ["+255754123456", "+255655123456"]
    stored = messages(backend)
    assert [(m.recipient, m.state, m.encoding, m.segments) for m in stored] == [
        ("+255754123456", "queued", "GSM-7", 1), ("+255655123456", "queued", "GSM-7", 1)]
    backend.run_workers()
    assert [m.state for m in messages(backend)] == ["delivered", "delivered"]
    sent = outbox(backend)
    assert [(o.recipient, o.sender, o.body) for o in sent] == [
        ("+255754123456", "RITA", "Habari, cheti chako kiko tayari."),
        ("+255655123456", "RITA", "Habari, cheti chako kiko tayari.")]
    r = cli("sms", "outbox", "-o", "json", role="operator")
    assert [o["to"] for o in r.json()] == ["+255754123456", "+255655123456"]
    with backend.read_sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.resource_type == "sms-batch"))
    assert entry.action == "send" and entry.actor == "ops@rita.go.tz" and entry.institution == "RITA"


def test_message_from_stdin_and_from_file(cli, backend, sender, tmp_path):
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", input="Habari kutoka stdin\n", role="operator")
    assert r.exit_code == 0, r.stderr
    path = tmp_path / "msg.txt"
    path.write_text("Habari kutoka faili\n", "utf-8")
    r = cli("sms", "send", "--to", "0754123457", "-i", "RITA", "--file", str(path), role="operator")
    assert r.exit_code == 0, r.stderr
    assert [m.body for m in messages(backend)] == ["Habari kutoka stdin", "Habari kutoka faili"]
    assert "Queued 1 message from RITA" in r.stderr


def test_dry_run_estimates_and_stores_nothing(cli, backend, sender):
    cli("sms", "optout", "create", "0655123456", "-i", "RITA", role="operator")
    r = cli("sms", "send", "--to", "0754123456,0754123456,0655123456,0713000111", "-i", "RITA", "--dry-run",
            "-o", "json", "a" * 161, role="operator")
    assert r.exit_code == 0, r.stderr
    est = r.json()
    assert est["dry_run"] is True
    assert (est["given"], est["duplicates"], est["opted_out"], est["recipients"]) == (4, 1, 1, 2)
    assert est["to"] == ["+255754123456", "+255713000111"]
    assert (est["encoding"], est["segments_per_message"], est["total_segments"]) == ("GSM-7", 2, 4)
    assert est["estimated_cost"] == 4 * est["price_per_segment"]
    assert count(backend, Message) == 0 and count(backend, Batch) == 0
    assert r.stderr == ""  # -o json: stderr only for the JSON of a failure
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--dry-run", "Habari", role="operator")
    assert "dry run: nothing was sent" in r.stderr
    assert count(backend, Message) == 0 and count(backend, Batch) == 0


@pytest.mark.parametrize("args,message", [
    (["--to", "0222123456", "Habari"], "invalid number 0222123456: a landline (fixed-line) number, not a mobile number; nothing was sent"),
    (["--to", "064123456", "Habari"], "invalid number 064123456: too short for a Tanzanian mobile number"),
    (["--to", "0754123456,0222123456,12", "Habari"], "invalid number 0222123456: a landline (fixed-line) number, not a mobile number (and 1 more: 12: too short"),
    (["--to", "0754123456", "--from", "RITA BIRTHS12", "Habari"], "sender ID 'RITA BIRTHS12' is 13 characters long; at most 11 are allowed"),
    (["--to", "0754123456", "--from", "RITA-TZ", "Habari"], "sender ID 'RITA-TZ' may contain only letters, digits and spaces"),
    (["--to", "0754123456", ""], "the message is empty; nothing was sent"),
    (["--to", "0754123456", "--at", "2026-11-22 11:00", "Habari"], "the scheduled time 2026-11-22 11:00 EAT is in the past"),
    (["--to", "0754123456", "--at", "kesho", "Habari"],
     "--at 'kesho' is not a time; give 2026-11-29 22:47 (East Africa Time), or with a zone: 2026-11-29 19:47 UTC"),
    (["--to", "0754123456", "--at", "next tuesday", "Habari"], "--at 'next tuesday' is not a time; give"),
    (["--to", "0754123456", "--at", "2026-11-23 09:00 Mars/Olympus", "Habari"],
     "--at '2026-11-23 09:00 Mars/Olympus': unknown time zone 'Mars/Olympus'"),
    (["--to", "0754123456", "--at", "2026-11-23 09:00+03:00 UTC", "Habari"], "gives both an offset and a zone; give one"),
    (["--to", "0754123456", "--at", " ", "Habari"], "--at is empty; give 2026-11-29 22:47 (East Africa Time)"),
    (["--group", "wazazi", "--to", "0754123456", "Habari"], "give the recipients with --to"),
])
def test_bad_input_exits_2_with_one_line_and_queues_nothing(cli, backend, sender, args, message):
    r = cli("sms", "send", "-i", "RITA", *args, role="operator")
    assert r.exit_code == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert count(backend, Message) == 0 and count(backend, Batch) == 0


def test_unapproved_or_foreign_sender_is_refused(cli, backend, sender):
    r = cli("sms", "senders", "request", "RITA NEWS", "-i", "RITA", role="operator")
    assert r.exit_code == 0, r.stderr
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--from", "RITA NEWS", "Habari", role="operator")
    assert r.exit_code == 2
    assert "error: sender ID RITA NEWS is not approved for use (pending)" in r.stderr
    cli("sms", "senders", "request", "TRA", "-i", "TRA", role="operator_tra")
    cli("sms", "senders", "approve", "TRA")
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--from", "TRA", "Habari", role="operator")
    assert r.exit_code == 2 and "sender ID TRA is not registered for RITA" in r.stderr
    assert count(backend, Message) == 0


def test_several_approved_senders_need_from(cli, backend, sender):
    cli("sms", "senders", "request", "RITA NEWS", "-i", "RITA", role="operator")
    cli("sms", "senders", "approve", "RITA NEWS")
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari", role="operator")
    assert r.exit_code == 2 and "choose one with --from" in r.stderr
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--from", "rita news", "Habari", role="operator")
    assert r.exit_code == 0, r.stderr
    assert messages(backend)[0].state == "queued"


def test_sender_ids_are_unique_and_only_admins_approve(cli, backend, sender):
    r = cli("sms", "senders", "request", "rita", "-i", "TRA", role="operator_tra")
    assert r.exit_code == 5 and "already registered" in r.stderr
    cli("sms", "senders", "request", "TRA", "-i", "TRA", role="operator_tra")
    r = cli("sms", "senders", "approve", "TRA", role="operator_tra")
    assert r.exit_code == 4
    r = cli("sms", "senders", "list", "-o", "json", role="operator")
    assert [(s["name"], s["status"]) for s in r.json()] == [("RITA", "approved")]
    r = cli("sms", "senders", "reject", "TRA", "--note", "use the TRA short code")
    assert r.exit_code == 0 and "rejected" in r.stderr


def test_typographic_characters_warn_and_normalize_fixes(cli, backend, sender):
    text = "Ndugu, cheti chako kiko tayari – karibu ofisini’"
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", text, role="operator")
    assert r.exit_code == 0
    assert "warning: the message will be sent as UCS-2" in r.stderr and "– (U+2013), ’ (U+2019)" in r.stderr
    r = cli("sms", "send", "--to", "0754123457", "-i", "RITA", "--normalize", text, role="operator")
    assert r.exit_code == 0 and "warning" not in r.stderr
    first, second = messages(backend)
    assert first.encoding == "UCS-2"
    assert (second.encoding, second.body) == ("GSM-7", "Ndugu, cheti chako kiko tayari - karibu ofisini'")


def test_scheduled_send_waits_for_its_time(cli, backend, clock, sender):
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--at", "2026-11-22 15:00", "Kikao saa 10", "-o", "json",
            role="operator")
    assert r.exit_code == 0, r.stderr
    assert r.json()["deliver_after"] == "2026-11-22T12:00:00+00:00"
    assert r.stderr == ""  # -o json: the notice is for people, in table output
    backend.run_workers()
    assert messages(backend)[0].state == "queued"
    clock.advance(hours=3)
    backend.run_workers()
    assert messages(backend)[0].state == "delivered"


@pytest.mark.parametrize("at", [
    "2026-11-22 15:00", "2026-11-22 15:00 EAT", "2026-11-22 15:00:00 eat", "2026-11-22T15:00", "2026-11-22 12:00 UTC",
    "2026-11-22 12:00 GMT", "2026-11-22T12:00Z", "2026-11-22 15:00+03:00", "2026-11-22 15:00 +03:00",
    "2026-11-22 12:00 Europe/London", "2026-11-22 15:00 Africa/Nairobi",
])
def test_at_is_east_africa_time_unless_it_names_a_zone(cli, backend, sender, at):
    """--at reads a time as people type them (the SDK's one reading); the API gets it in UTC, as it writes times."""
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--at", at, "Kikao saa 10", "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    assert r.json()["deliver_after"] == "2026-11-22T12:00:00+00:00"
    [message] = messages(backend)
    assert message.deliver_after.astimezone(dt.timezone.utc) == dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)


def test_a_scheduled_time_typed_back_as_shown_is_the_same_moment(cli, backend, sender):
    """The notice shows the time as egactl shows every time; that text, given to --at, is the same schedule."""
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--at", "2026-11-22 12:00 UTC", "Kikao saa 10",
            role="operator")
    assert r.exit_code == 0, r.stderr
    shown = r.stderr.split("scheduled for ", 1)[1].splitlines()[0]
    assert shown == "2026-11-22 15:00 EAT"
    r = cli("sms", "send", "--to", "0754123457", "-i", "RITA", "--at", shown, "Kikao saa 10", "-o", "json",
            role="operator")
    assert r.exit_code == 0, r.stderr
    assert r.json()["deliver_after"] == "2026-11-22T12:00:00+00:00"
    assert len({m.deliver_after for m in messages(backend)}) == 1


def test_quiet_hours_hold_group_sends_but_not_quick_ones(cli, backend, clock, sender):
    cli("sms", "group", "create", "wazazi", "-i", "RITA", role="operator")
    cli("sms", "group", "add-members", "wazazi", "0754123456", "0754123457", "-i", "RITA", role="operator")
    clock.advance(hours=10)  # 19:00 UTC = 22:00 EAT
    r = cli("sms", "send", "--group", "wazazi", "-i", "RITA", "Mkutano wa wazazi kesho", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "quiet hours (21:00-07:00 EAT): delivery starts 2026-11-23 07:00 EAT" in r.stderr
    r = cli("sms", "send", "--to", "0713000111", "-i", "RITA", "Nambari yako ya uthibitisho ni 4821", role="operator")
    assert r.exit_code == 0
    backend.run_workers()
    states = {m.recipient: m.state for m in messages(backend)}
    assert states == {"+255754123456": "queued", "+255754123457": "queued", "+255713000111": "delivered"}
    clock.advance(hours=9)  # 04:00 UTC = 07:00 EAT
    backend.run_workers()
    assert {m.state for m in messages(backend)} == {"delivered"}


def test_allow_quiet_hours_sends_at_night(cli, backend, clock, sender):
    cli("sms", "group", "create", "dharura", "-i", "RITA", role="operator")
    cli("sms", "group", "add-members", "dharura", "0754123456", "-i", "RITA", role="operator")
    clock.advance(hours=10)
    r = cli("sms", "send", "--group", "dharura", "-i", "RITA", "--allow-quiet-hours", "Tahadhari ya mafuriko",
            role="operator")
    assert r.exit_code == 0 and "quiet hours" not in r.stderr
    backend.run_workers()
    assert messages(backend)[0].state == "delivered"


def test_status_list_and_report(cli, backend, sender):
    cli("sms", "optout", "create", "0655123456", "-i", "RITA", role="operator")
    r = cli("sms", "send", "--to", "0754123456,0655123456", "-i", "RITA", "Habari", "-o", "json", role="operator")
    batch = r.json()["id"]
    backend.run_workers()
    msg_id = messages(backend)[0].id
    r = cli("sms", "show", str(msg_id), "-o", "json", role="operator")
    assert r.json()["state"] == "delivered" and r.json()["to"] == "+255754123456"
    r = cli("sms", "show", str(msg_id), role="operator")
    assert "delivered" in r.stdout and "+255754123456" in r.stdout
    r = cli("sms", "list", "--batch", str(batch), "--state", "delivered", "-o", "json", role="operator")
    assert [m["id"] for m in r.json()] == [msg_id]
    r = cli("sms", "report", str(batch), "-o", "json", role="operator")
    rep = r.json()
    assert rep["states"]["delivered"] == 1 and rep["states"]["queued"] == 0
    assert rep["skipped"]["opted_out"] == 1
    r = cli("sms", "list", "--state", "lost")
    assert r.exit_code == 2
    assert cli("sms", "show", "999").exit_code == 3


def test_helpdesk_sees_masked_numbers_no_text_and_cannot_send(cli, backend, sender):
    cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari Juma, deni lako ni 5,000", role="operator")
    backend.run_workers()
    r = cli("sms", "list", "--to", "0754123456", "-o", "json", role="helpdesk")
    assert r.exit_code == 0, r.stderr
    [m] = r.json()
    assert m["to"] == "+255754***456" and m["text"] is None and m["state"] == "delivered"
    r = cli("sms", "outbox", "-o", "json", role="helpdesk")
    assert r.json()[0]["to"] == "+255754***456" and r.json()[0]["text"] is None
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari", role="helpdesk")
    assert r.exit_code == 4 and "read-only" in r.stderr
    assert len(messages(backend)) == 1


def test_operators_see_and_send_only_for_their_institution(cli, backend, sender):
    cli("sms", "senders", "request", "TRA", "-i", "TRA", role="operator_tra")
    cli("sms", "senders", "approve", "TRA")
    r = cli("sms", "send", "--to", "0754123456", "-i", "TRA", "Kodi", "-o", "json", role="operator_tra")
    tra_batch = r.json()["id"]
    cli("sms", "send", "--to", "0754123457", "-i", "RITA", "Cheti", role="operator")
    r = cli("sms", "list", "-o", "json", role="operator")
    assert {m["institution"] for m in r.json()} == {"RITA"}
    assert cli("sms", "report", str(tra_batch), role="operator").exit_code == 4
    assert cli("sms", "list", "-i", "TRA", role="operator").exit_code == 4
    r = cli("sms", "send", "--to", "0754123456", "-i", "TRA", "Kodi", role="operator")
    assert r.exit_code == 4
    r = cli("sms", "list", "-o", "json")  # admin sees both
    assert {m["institution"] for m in r.json()} == {"RITA", "TRA"}


def test_late_opt_out_is_rejected_at_delivery(cli, backend, clock, sender):
    cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--at", "2026-11-22 18:00", "Habari", role="operator")
    cli("sms", "optout", "create", "0754123456", "-i", "RITA", "--reason", "replied STOP", role="operator")
    clock.advance(hours=7)
    backend.run_workers()
    [m] = messages(backend)
    assert m.state == "rejected" and m.reason == "the recipient opted out after the message was queued"
    assert outbox(backend) == []


def test_messages_expire_when_not_sent_in_time(cli, backend, clock, sender, monkeypatch):
    from egactl_sms.server import workers

    cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari", role="operator")
    clock.advance(hours=49)
    assert workers.tick(backend) == 1
    [m] = messages(backend)
    assert m.state == "expired" and "not sent within 48 hours" in m.reason


def test_optout_commands(cli, backend, sender):
    r = cli("sms", "optout", "create", "+255754123456", "-i", "RITA", "--reason", "replied STOP", role="operator")
    assert r.exit_code == 0 and "will receive no more messages" in r.stderr
    r = cli("sms", "optout", "create", "0754123456", "-i", "RITA", role="operator")
    assert r.exit_code == 0 and "had already opted out" in r.stderr
    r = cli("sms", "optout", "list", "-o", "json", role="helpdesk")
    assert [o["phone"] for o in r.json()] == ["+255754***456"]
    r = cli("sms", "optout", "delete", "0754123456", "-i", "RITA", role="operator")
    assert r.exit_code == 2 and "--yes" in r.stderr
    r = cli("sms", "optout", "delete", "0754123456", "-i", "RITA", "--yes", role="operator")
    assert r.exit_code == 0
    assert cli("sms", "optout", "list", "-o", "json", role="operator").json() == []
    assert cli("sms", "optout", "delete", "0754123456", "-i", "RITA", "--yes", role="operator").exit_code == 3


def test_an_institution_with_sms_history_cannot_be_deleted(cli, backend, sender):
    r = cli("institutions", "delete", "RITA", "--yes")
    assert r.exit_code == 5 and "error: RITA still holds 1 SMS sender" in r.stderr and "release them first" in r.stderr


def test_a_scheduled_send_says_when_it_goes_in_table_output(cli, sender):
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "--at", "2026-11-22 15:00", "Kikao saa 10",
            role="operator")
    assert r.exit_code == 0, r.stderr
    assert "scheduled for 2026-11-22 15:00 EAT" in r.stderr
