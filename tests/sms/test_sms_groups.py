"""sms group: contact groups, their members, and sending to them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egactl_sms.server.models import GroupMember, Message


@pytest.fixture
def sender(cli):
    cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator")
    assert cli("sms", "senders", "approve", "RITA").exit_code == 0
    return "RITA"


def members(backend):
    with backend.read_sessions() as s:
        return sorted(s.scalars(select(GroupMember.phone)))


def test_group_lifecycle(cli, backend, tmp_path):
    r = cli("sms", "group", "create", "wazazi wa Dodoma", "-i", "RITA", "-d", "parents", role="operator")
    assert r.exit_code == 0, r.stderr
    assert cli("sms", "group", "create", "wazazi wa Dodoma", "-i", "RITA", role="operator").exit_code == 0  # exists
    assert cli("sms", "group", "create", "wazazi wa Dodoma", "-i", "RITA", "-d", "walimu", role="operator").exit_code == 5
    r = cli("sms", "group", "add-members", "wazazi wa Dodoma", "0754123456", "+255754123457,0754123456", "-i", "RITA",
            role="operator")
    assert r.exit_code == 0, r.stderr
    assert members(backend) == ["+255754123456", "+255754123457"]
    r = cli("sms", "group", "add-members", "wazazi wa Dodoma", "0754123456", "0222123456", "-i", "RITA", role="operator")
    assert r.exit_code == 2 and "0222123456: a landline" in r.stderr
    csv = tmp_path / "members.csv"
    csv.write_text("phone,name\n0754123458,Asha Juma\n0754123457,Neema\nnot-a-number,X\n", "utf-8")
    r = cli("sms", "group", "import", "wazazi wa Dodoma", str(csv), "-i", "RITA", role="operator")
    assert r.exit_code == 2 and "line 4: invalid number" in r.stderr
    r = cli("sms", "group", "import", "wazazi wa Dodoma", str(csv), "-i", "RITA", "--skip-invalid", "-o", "json",
            role="operator")
    assert r.exit_code == 0, r.stderr
    assert r.json()["statuses"] == {"added": 1, "exists": 1}
    assert members(backend) == ["+255754123456", "+255754123457", "+255754123458"]
    r = cli("sms", "group", "show", "wazazi wa Dodoma", "-i", "RITA", "-o", "json", role="helpdesk")
    shown = r.json()
    assert shown["members"] == 3
    assert {m["phone"] for m in shown["member_list"]} == {"+255754***456", "+255754***457", "+255754***458"}
    assert "A*** J***" in {m["name"] for m in shown["member_list"]}
    r = cli("sms", "group", "remove-members", "wazazi wa Dodoma", "0754123456", "0713000000", "-i", "RITA", "--yes",
            role="operator")
    assert r.exit_code == 0 and "not members of 'wazazi wa Dodoma': +255713000000" in r.stderr
    assert members(backend) == ["+255754123457", "+255754123458"]
    r = cli("sms", "group", "list", "-o", "json", role="operator_tra")
    assert r.json() == []
    assert cli("sms", "group", "delete", "wazazi wa Dodoma", "-i", "RITA", role="operator").exit_code == 2
    assert cli("sms", "group", "delete", "wazazi wa Dodoma", "-i", "RITA", "--yes", role="operator").exit_code == 0
    assert members(backend) == []
    assert cli("sms", "group", "show", "wazazi wa Dodoma", "-i", "RITA").exit_code == 3


def test_group_send_skips_opted_out_members(cli, backend, sender):
    cli("sms", "group", "create", "walimu", "-i", "RITA", role="operator")
    cli("sms", "group", "add-members", "walimu", "0754123456", "0754123457", "0754123458", "-i", "RITA", role="operator")
    cli("sms", "optout", "create", "0754123457", "-i", "RITA", role="operator")
    r = cli("sms", "send", "--group", "walimu", "-i", "RITA", "--dry-run", "-o", "json", "Kikao kesho", role="operator")
    assert (r.json()["recipients"], r.json()["opted_out"]) == (2, 1)
    r = cli("sms", "send", "--group", "walimu", "-i", "RITA", "Kikao kesho", "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    assert r.json()["kind"] == "group" and r.json()["messages"] == 2 and r.json()["skipped"]["opted_out"] == 1
    with backend.read_sessions() as s:
        assert sorted(s.scalars(select(Message.recipient))) == ["+255754123456", "+255754123458"]
    backend.run_workers()
    r = cli("sms", "report", str(r.json()["id"]), "-o", "json", role="operator")
    assert r.json()["states"]["delivered"] == 2 and r.json()["skipped"]["opted_out"] == 1


def test_empty_or_unknown_group(cli, backend, sender):
    cli("sms", "group", "create", "tupu", "-i", "RITA", role="operator")
    r = cli("sms", "send", "--group", "tupu", "-i", "RITA", "Habari", role="operator")
    assert r.exit_code == 2 and "has no members" in r.stderr
    r = cli("sms", "send", "--group", "hakuna", "-i", "RITA", "Habari", role="operator")
    assert r.exit_code == 3 and "group 'hakuna' of RITA not found" in r.stderr
    r = cli("sms", "group", "create", "bad/name", "-i", "RITA", role="operator")
    assert r.exit_code == 2


@pytest.mark.parametrize("path,body,problem", [
    ("/api/v1/sms/senders", {"institution": "RITA", "name": "RITA-TZ"},
     "name: sender ID 'RITA-TZ' may contain only letters, digits and spaces"),
    ("/api/v1/sms/groups", {"institution": "RITA", "name": "-wazazi"},
     "name: group name '-wazazi' must be 1-64 letters"),
])
def test_the_backend_refuses_a_bad_name_itself(app, tokens, backend, path, body, problem):
    """A client that skips the commands' checks gets the same rule from the backend: a 422
    naming the field, and nothing stored."""
    import httpx
    from sqlalchemy import text

    from egactl.sandbox import SyncASGITransport

    with httpx.Client(transport=SyncASGITransport(app), base_url="http://backend") as http:
        r = http.post(path, json=body, headers={"Authorization": f"Bearer {tokens['operator']}"})
    assert r.status_code == 422, r.text
    assert problem in r.json()["detail"]
    table = "sms_senders WHERE name = 'RITA-TZ'" if "senders" in path else "sms_groups"
    with backend.engine.connect() as c:
        assert c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


@pytest.mark.parametrize("args,problem", [
    (("show", "wazazi/members"), "group name 'wazazi/members' must be 1-64 letters"),
    (("delete", "wazazi/members", "--yes"), "group name 'wazazi/members' must be 1-64 letters"),
    (("add-members", "wazazi/x", "0754123457"), "group name 'wazazi/x' must be 1-64 letters"),
    (("show", "wazazi", "-i", "RITA/x"), "--institution: institution code 'RITA/X' must be"),
])
def test_a_group_reference_that_would_become_another_path_is_refused(cli, backend, args, problem):
    """A '/' in a group name or institution was sent as a path separator: `group delete
    'wazazi/members'` read the member list as if it were the group and crashed (exit 1).
    Now: exit 2, one line naming the problem, nothing sent, the group untouched."""
    from sqlalchemy import func

    from egactl_sms.server.models import Group

    assert cli("sms", "group", "create", "wazazi", "-i", "RITA").exit_code == 0
    assert cli("sms", "group", "add-members", "wazazi", "0754123456", "-i", "RITA").exit_code == 0
    r = cli("sms", "group", *args, *(() if "-i" in args else ("-i", "RITA")))
    assert r.exit_code == 2, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and problem in r.stderr, r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(Group)) == 1
        assert s.scalar(select(func.count()).select_from(GroupMember)) == 1


def test_an_opt_out_institution_that_would_become_another_path_is_refused(cli):
    r = cli("sms", "optout", "delete", "0754123456", "-i", "RITA/x", "--yes")
    assert r.exit_code == 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == ["error: --institution: institution code 'RITA/X' must be 2-32 letters, "
                                             "digits or '-' (e.g. RITA, KINONDONI-MC)"]
