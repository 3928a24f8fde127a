"""egactl find answers sms contact-group members by name ("neema kw", "Kweka Neema"):
every word the start of a different word of the name, any order, case, diacritics or
apostrophes; from the token table, kept in step with every write of a member's name
(add-members, import, remove-members, group delete, privacy erase), index-backed on
SQLite and PostgreSQL. Admin sees all, an operator its institutions, the help desk
all of it masked as `sms group show` masks member names."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egactl.plugin.testing import query_plans
from egactl_sms.server.models import GroupMember, MemberNameToken

NEEMA = "+255754100001"


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def members(cli, tmp_path=None):
    """RITA's group "wateja": Neema Kweka, Ngʼwanza Mrisho (from a file), Éric Mushi;
    TRA's group "walipa kodi": Neema Kweka (another number) and Asha Said."""
    ok(cli("sms", "group", "create", "wateja", "-i", "RITA", role="operator"))
    ok(cli("sms", "group", "add-members", "wateja", "0754100001", "-i", "RITA", "--name", "Neema Kweka",
           role="operator"))
    ok(cli("sms", "group", "add-members", "wateja", "0754100003", "-i", "RITA", "--name", "Éric Mushi",
           role="operator"))
    if tmp_path is not None:
        csv = tmp_path / "members.csv"
        csv.write_text("phone,name\n0754100002,Ngʼwanza Mrisho\n", "utf-8")
        ok(cli("sms", "group", "import", "wateja", str(csv), "-i", "RITA", role="operator"))
    ok(cli("sms", "group", "create", "walipa kodi", "-i", "TRA", role="operator_tra"))
    ok(cli("sms", "group", "add-members", "walipa kodi", "0754200001", "-i", "TRA", "--name", "Neema Kweka",
           role="operator_tra"))
    ok(cli("sms", "group", "add-members", "walipa kodi", "0754200002", "-i", "TRA", "--name", "Asha Said",
           role="operator_tra"))


def found(cli, term, role="admin"):
    r = cli("find", term, "--service", "sms", "-o", "json", role=role)
    if r.exit_code == 3:
        return []
    return ok(r).json()


def named(items):
    return sorted((f["institution"], f["summary"].split(" (")[0]) for f in items if f["kind"] == "group member")


def tokens(backend):
    with backend.read_sessions() as s:
        return sorted(s.execute(select(GroupMember.phone, MemberNameToken.token)
                                .join(MemberNameToken, MemberNameToken.member_id == GroupMember.id)).all())


@pytest.mark.parametrize("term", ["neema kw", "Kweka Neema", "NEEMA KWEKA", "kw NE", "kweka"])
def test_a_name_in_any_order_and_case_finds_the_members_for_an_admin(cli, backend, term):
    members(cli)
    items = found(cli, term)
    assert named(items) == [("RITA", "Neema Kweka"), ("TRA", "Neema Kweka")]
    rita = next(f for f in items if f["institution"] == "RITA")
    assert rita["reference"] == "RITA/wateja" and rita["summary"].startswith("Neema Kweka (+255754100001) is in")
    assert rita["command"] == "egactl sms group show wateja -i RITA"
    assert ok(cli(*rita["command"].split()[1:])).stdout.count("Neema Kweka") == 1  # the command works
    assert rita["rank"] == (100 if term.lower().split() in (["neema", "kweka"], ["kweka", "neema"]) else
                            80 if term == "kweka" else 60)


def test_diacritics_and_apostrophes_are_no_matter(cli, backend, tmp_path):
    members(cli, tmp_path)
    for term in ("eric mu", "Éric Mushi", "ERIC"):
        assert named(found(cli, term)) == [("RITA", "Éric Mushi")], term
    for term in ("ngwanza", "Ngʼwanza", "ng'wanza mrisho", "Mrisho Ngwa"):  # imported from a file
        assert named(found(cli, term)) == [("RITA", "Ngʼwanza Mrisho")], term


def test_every_word_must_start_a_different_word_of_the_name(cli, backend):
    members(cli)
    assert found(cli, "neema neema") == []
    assert found(cli, "neema said") == []
    assert found(cli, "eema") == []  # a word's start, not its middle


def test_an_operator_finds_only_its_institutions(cli, backend):
    members(cli)
    assert named(found(cli, "neema kw", role="operator")) == [("RITA", "Neema Kweka")]
    assert named(found(cli, "neema kw", role="operator_tra")) == [("TRA", "Neema Kweka")]
    assert found(cli, "asha said", role="operator") == []


def test_the_help_desk_finds_them_masked_as_group_show_masks_them(cli, backend):
    members(cli)
    r = ok(cli("find", "neema kw", "--service", "sms", "-o", "json", role="helpdesk"))
    for secret in ("Neema", "Kweka", "754100001", "754200001"):
        assert secret not in r.stdout, secret
    items = r.json()
    assert named(items) == [("RITA", "N**** K****"), ("TRA", "N**** K****")]
    shown = ok(cli("sms", "group", "show", "wateja", "-i", "RITA", "-o", "json", role="helpdesk")).json()["member_list"][0]
    mine = next(f for f in items if f["institution"] == "RITA")
    assert mine["summary"].startswith(f"{shown['name']} ({shown['phone']}) is in RITA's group 'wateja'")


def test_the_tokens_follow_remove_members_group_delete_and_privacy_erase(cli, backend, tmp_path):
    members(cli, tmp_path)
    assert ("+255754100002", "ngwanza") in tokens(backend)
    ok(cli("sms", "group", "remove-members", "wateja", "0754100003", "-i", "RITA", "--yes", role="operator"))
    assert not [t for p, t in tokens(backend) if p == "+255754100003"]
    assert found(cli, "eric mushi") == []
    ok(cli("privacy", "erase", "0754100001", "--case", "PDPA-7", "--yes"))
    assert not [t for p, t in tokens(backend) if p == NEEMA]
    assert named(found(cli, "neema kweka")) == [("TRA", "Neema Kweka")]
    ok(cli("sms", "group", "delete", "walipa kodi", "-i", "TRA", "--yes", role="operator_tra"))
    assert tokens(backend) == [("+255754100002", "mrisho"), ("+255754100002", "ngwanza")]
    # only the members left have words, and nothing else names a removed one
    with backend.read_sessions() as s:
        assert s.scalar(select(MemberNameToken.member_id).where(
            MemberNameToken.member_id.notin_(select(GroupMember.id)))) is None


def name_plans(engine, cli, role, term):
    def run():  # "kw ne e" finds nothing: its plan is read all the same
        assert cli("find", term, "--service", "sms", role=role).exit_code in (0, 3)

    plans = query_plans(engine, "sms_member_name_tokens", run)
    assert plans
    return plans


@pytest.mark.parametrize("term", ["neema", "neema kw", "kw ne e"])
def test_a_name_is_found_from_index_ranges_on_sqlite(cli, backend, term):
    members(cli)
    for role in ("admin", "operator"):
        for plan in name_plans(backend.engine, cli, role, term):
            assert "ix_sms_member_name_tokens_token_member" in plan, plan
            assert "SCAN sms_" not in plan, plan  # members and groups by primary key, words by index range


def test_a_name_is_found_from_index_ranges_on_postgresql(postgres_url):
    from tests.conftest import cli_on

    with cli_on(postgres_url, ("admin", "operator")) as (cli, be):
        cli.tokens["operator_tra"] = cli.tokens["admin"]
        members(cli)
        assert named(found(cli, "Kweka Neema")) == [("RITA", "Neema Kweka"), ("TRA", "Neema Kweka")]
        for role in ("admin", "operator"):
            for term in ("neema", "neema kw", "kw ne e"):
                for plan in name_plans(be.engine, cli, role, term):
                    assert "ix_sms_member_name_tokens_token_member" in plan, plan
                    assert "Seq Scan" not in plan, plan
