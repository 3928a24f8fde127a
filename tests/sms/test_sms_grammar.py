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
