"""egactl sms in the tool's one grammar (issue 12): the renamed verbs and flags, with
their old spellings still working for a release (and saying so on stderr)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egactl_sms.server.models import GroupMember, Message, OptOut


@pytest.fixture
def sender(cli):
    """RITA's sender ID, requested by its operator and approved by e-GA."""
    assert cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator").exit_code == 0
    assert cli("sms", "senders", "approve", "RITA").exit_code == 0
    return "RITA"


def members(backend) -> set[str]:
    with backend.read_sessions() as s:
        return set(s.scalars(select(GroupMember.phone)))


def optouts(backend) -> set[str]:
    with backend.read_sessions() as s:
        return set(s.scalars(select(OptOut.phone)))


# -- verbs ----------------------------------------------------------------------------------


def test_show_is_the_verb_for_one_message_and_status_still_works(cli, backend, sender):
    assert cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari", role="operator").exit_code == 0
    with backend.read_sessions() as s:
        msg_id = s.scalar(select(Message.id))
    new = cli("sms", "show", str(msg_id), "-o", "json", role="operator")
    assert new.exit_code == 0 and new.json()["to"] == "+255754123456"
    assert "is now" not in new.stderr
    old = cli("sms", "status", str(msg_id), "-o", "json", role="operator")
    assert old.exit_code == 0 and old.json() == new.json()
    old = cli("sms", "status", str(msg_id), role="operator")
    assert old.exit_code == 0
    assert "`egactl sms status` is now `egactl sms show`" in old.stderr


def test_group_add_members_and_remove_members_with_the_old_names_kept(cli, backend):
    assert cli("sms", "group", "create", "wazazi", "-i", "RITA", role="operator").exit_code == 0
    r = cli("sms", "group", "add-members", "wazazi", "0754123456", "-i", "RITA", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "is now" not in r.stderr
    r = cli("sms", "group", "add", "wazazi", "0754123457", "-i", "RITA", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "`egactl sms group add` is now `egactl sms group add-members`" in r.stderr
    assert members(backend) == {"+255754123456", "+255754123457"}
    r = cli("sms", "group", "remove-members", "wazazi", "0754123456", "-i", "RITA", "--yes", role="operator")
    assert r.exit_code == 0, r.stderr
    r = cli("sms", "group", "remove", "wazazi", "0754123457", "-i", "RITA", "--yes", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "`egactl sms group remove` is now `egactl sms group remove-members`" in r.stderr
    assert members(backend) == set()


def test_optout_create_and_delete_with_the_old_names_kept(cli, backend):
    r = cli("sms", "optout", "create", "0754123456", "-i", "RITA", role="operator")
    assert r.exit_code == 0, r.stderr
    r = cli("sms", "optout", "add", "0754123457", "-i", "RITA", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "`egactl sms optout add` is now `egactl sms optout create`" in r.stderr
    assert optouts(backend) == {"+255754123456", "+255754123457"}
    assert cli("sms", "optout", "delete", "0754123456", "-i", "RITA", "--yes", role="operator").exit_code == 0
    r = cli("sms", "optout", "remove", "0754123457", "-i", "RITA", "--yes", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "`egactl sms optout remove` is now `egactl sms optout delete`" in r.stderr
    assert optouts(backend) == set()


def test_old_names_are_in_no_help(cli):
    assert " status " not in cli("sms", "--help").stdout.replace("\n", " ")
    group_help = cli("sms", "group", "--help").stdout
    assert "add-members" in group_help and "\n  add " not in group_help and "\n  remove " not in group_help
    optout_help = cli("sms", "optout", "--help").stdout
    assert "\n  create " in optout_help and "\n  add " not in optout_help and "\n  remove " not in optout_help


# -- flags ----------------------------------------------------------------------------------


def test_list_filters_by_state_and_the_old_status_flag_still_works(cli, backend, sender):
    assert cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari", role="operator").exit_code == 0
    backend.run_workers()
    new = cli("sms", "list", "--state", "delivered", "-o", "json")
    assert new.exit_code == 0 and [m["to"] for m in new.json()] == ["+255754123456"]
    assert cli("sms", "list", "-s", "queued", "-o", "json").json() == []
    for old in (["--status", "delivered"], ["--status=delivered"]):
        r = cli("sms", "list", *old)
        assert r.exit_code == 0, r.stderr
        assert "+255754123456" in r.stdout
        assert "`egactl sms list --status` is now `--state`" in r.stderr
    r = cli("sms", "list", "--state", "lost")
    assert r.exit_code == 2 and "--state" in r.stderr


def test_senders_list_filters_by_state_and_the_old_status_flag_still_works(cli, sender):
    assert cli("sms", "senders", "request", "TRA", "-i", "TRA", role="operator_tra").exit_code == 0
    r = cli("sms", "senders", "list", "--state", "pending", "-o", "json")
    assert r.exit_code == 0 and [s["name"] for s in r.json()] == ["TRA"]
    r = cli("sms", "senders", "list", "-s", "approved", "-o", "json")
    assert [s["name"] for s in r.json()] == ["RITA"]
    r = cli("sms", "senders", "list", "--status", "approved")
    assert r.exit_code == 0 and "RITA" in r.stdout and "TRA " not in r.stdout
    assert "`egactl sms senders list --status` is now `--state`" in r.stderr
    assert "STATE" in r.stdout.splitlines()[0]


def test_short_flags_given_up_still_work_for_a_release(cli, backend, sender, tmp_path):
    # sms send -f: --file (the tool has no -f)
    text = tmp_path / "tangazo.txt"
    text.write_text("Kikao kimeahirishwa\n", "utf-8")
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "-f", str(text), "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "`egactl sms send -f` is now `--file`" not in r.stderr  # -o json: stderr only for failures
    r = cli("sms", "send", "--to", "0754123457", "-i", "RITA", "-f", str(text), role="operator")
    assert r.exit_code == 0, r.stderr
    assert "`egactl sms send -f` is now `--file`" in r.stderr
    with backend.read_sessions() as s:
        assert set(s.scalars(select(Message.body))) == {"Kikao kimeahirishwa"}
    # sms cancel -m: --message (-m is --member in the tool)
    r = cli("sms", "cancel", "-m", "2", "--yes", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "`egactl sms cancel -m` is now `--message`" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(Message.state).where(Message.id == 2)) == "cancelled"
    # sms optout list -p: --phone (-p is --profile in the tool)
    cli("sms", "optout", "create", "0754123456", "-i", "RITA", role="operator")
    r = cli("sms", "optout", "list", "-p", "0754123456")
    assert r.exit_code == 0 and "+255754123456" in r.stdout
    assert "`egactl sms optout list -p` is now `--phone`" in r.stderr
    # sms group add-members -n: --name (-n is --network in the tool), also under the old verb
    cli("sms", "group", "create", "wazazi", "-i", "RITA", role="operator")
    r = cli("sms", "group", "add-members", "wazazi", "0754123456", "-n", "Juma", "-i", "RITA", role="operator")
    assert r.exit_code == 0, r.stderr
    assert "`egactl sms group add-members -n` is now `--name`" in r.stderr
    r = cli("sms", "group", "add", "wazazi", "0754123457", "-n", "Asha", "-i", "RITA", role="operator")
    assert r.exit_code == 0, r.stderr
    with backend.read_sessions() as s:
        assert dict(s.execute(select(GroupMember.phone, GroupMember.name)).all()) == {
            "+255754123456": "Juma", "+255754123457": "Asha"}


@pytest.mark.parametrize("path,gone", [
    (("send",), "-f,"), (("cancel",), "-m,"), (("optout", "list"), "-p,"), (("group", "add-members"), "-n,"),
    (("list",), "--status"), (("senders", "list"), "--status"),
])
def test_help_shows_only_the_new_spelling(cli, path, gone):
    out = cli("sms", *path, "--help").stdout
    assert gone not in out


# -- newest first ---------------------------------------------------------------------------


def _three_sends(cli, clock) -> list[int]:
    ids = []
    for i, number in enumerate(("0754123451", "0754123452", "0754123453")):
        r = cli("sms", "send", "--to", number, "-i", "RITA", f"Ujumbe namba {i + 1}", "-o", "json", role="operator")
        assert r.exit_code == 0, r.stderr
        ids.append(r.json()["id"])
        clock.advance(minutes=7)
    return ids


def test_batches_are_listed_newest_first_and_oldest_first_on_request(cli, clock, sender):
    first, second, third = _three_sends(cli, clock)
    r = cli("sms", "batches", "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    assert [b["id"] for b in r.json()] == [third, second, first]
    created = [b["created_at"] for b in r.json()]
    assert created == sorted(created, reverse=True)
    assert [b["id"] for b in cli("sms", "batches", "--limit", "2", "-o", "json").json()] == [third, second]
    r = cli("sms", "batches", "--oldest-first", "-o", "json", role="operator")
    assert [b["id"] for b in r.json()] == [first, second, third]
    table = cli("sms", "batches", "--oldest-first", role="operator").stdout.splitlines()
    assert [line.split()[0] for line in table[1:]] == [str(first), str(second), str(third)]


def test_messages_are_listed_newest_first_and_oldest_first_on_request(cli, clock, sender):
    _three_sends(cli, clock)
    r = cli("sms", "list", "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    assert [m["to"] for m in r.json()] == ["+255754123453", "+255754123452", "+255754123451"]
    assert [m["to"] for m in cli("sms", "list", "--limit", "1", "-o", "json").json()] == ["+255754123453"]
    r = cli("sms", "list", "--oldest-first", "-o", "json", role="operator")
    assert [m["to"] for m in r.json()] == ["+255754123451", "+255754123452", "+255754123453"]


def test_newest_first_holds_across_pages(cli, clock, sender):
    """The server's keyset pages follow the time order: no row repeated or skipped."""
    ids = _three_sends(cli, clock)
    seen, cursor = [], None
    while True:
        args = ["api", "GET", "/api/v1/sms/batches", "-f", "limit=1"] + (["-f", f"cursor={cursor}"] if cursor else [])
        page = cli(*args).json()
        seen += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]
