"""sms creates follow the one create rule: the same again is exit 0 "exists" and changes
nothing; other values are exit 5 naming the field (the SDK's same_or_conflict)."""

from __future__ import annotations


def audit_count(cli, resource: str) -> int:
    return len(cli("-o", "json", "audit", "list", "--resource", resource, "--all").json())


def test_creating_the_same_group_again_is_exists(cli):
    args = ("sms", "group", "create", "wazazi", "-i", "RITA", "--description", "wazazi wa shule")
    assert cli(*args, role="operator").exit_code == 0
    again = cli(*args, role="operator")
    assert again.exit_code == 0, again.stderr
    assert "exists: already there exactly as asked; nothing changed" in again.stderr
    assert audit_count(cli, "sms-group") == 1  # nothing recorded the second time
    other = cli("sms", "group", "create", "wazazi", "-i", "RITA", "--description", "walimu", role="operator")
    assert other.exit_code == 5
    assert "already exists with other values for description" in other.stderr


def test_requesting_the_same_sender_again_is_exists(cli):
    args = ("sms", "senders", "request", "RITA INFO", "-i", "RITA", "--purpose", "registration notices")
    assert cli(*args, role="operator").exit_code == 0
    again = cli(*args, role="operator")
    assert again.exit_code == 0 and "exists" in again.stderr, again.stderr
    shown = cli("-o", "json", *args, role="operator")
    assert shown.exit_code == 0 and shown.json()["status"] == "pending" and shown.stderr == ""
    other = cli("sms", "senders", "request", "RITA INFO", "-i", "RITA", "--purpose", "marketing", role="operator")
    assert other.exit_code == 5 and "other values for purpose" in other.stderr
    taken = cli("sms", "senders", "request", "RITA INFO", "-i", "TRA", "--purpose", "x", role="operator_tra")
    assert taken.exit_code == 5 and "another institution" in taken.stderr
