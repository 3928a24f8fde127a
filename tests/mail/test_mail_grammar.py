"""mail in the one grammar: renamed verbs and flags keep their old spelling for a release."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egactl.server.models import AuditEntry
from egactl_mail.server.models import MailAddress, Mailbox, MailDomain


@pytest.fixture
def juma(cli, backend):
    with backend.write_sessions() as s:
        s.add(MailDomain(domain="rita.go.tz", institution="RITA", naming_rule="given.family", is_primary=True,
                         created_at=backend.now()))
        s.commit()
    r = cli("mail", "create", "-i", "RITA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "100000001",
            "-o", "json")
    assert r.exit_code == 0, r.stderr
    return r.json()["address"]


def status(backend, address="juma.mrisho@rita.go.tz") -> str:
    with backend.read_sessions() as s:
        return s.scalar(select(Mailbox.status).where(Mailbox.address == address))


def test_resume_is_the_verb_and_restore_still_works_with_a_notice(cli, backend, juma):
    assert cli("mail", "suspend", juma, "--yes").exit_code == 0
    r = cli("mail", "resume", juma)
    assert r.exit_code == 0, r.stderr
    assert "Resumed juma.mrisho@rita.go.tz" in r.stderr and "now`" not in r.stderr
    assert status(backend) == "active"
    assert cli("mail", "suspend", juma, "--yes").exit_code == 0
    r = cli("mail", "restore", juma)
    assert r.exit_code == 0, r.stderr
    assert "`egactl mail restore` is now `egactl mail resume`" in r.stderr
    assert status(backend) == "active"
    with backend.read_sessions() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.resource_type == "mailbox")
                                 .order_by(AuditEntry.id)))
    assert actions == ["create", "suspend", "resume", "suspend", "resume"]
    # the old name is in no help
    assert "restore" not in cli("mail", "--help").stdout


def test_the_previous_api_path_of_resume_still_works(cli, backend, juma):
    assert cli("mail", "suspend", juma, "--yes").exit_code == 0
    r = cli("api", "POST", f"/api/v1/mail/mailboxes/{juma}/restore")
    assert r.exit_code == 0, r.stderr
    assert status(backend) == "active"


def test_alias_create_and_delete_with_the_old_add_and_remove(cli, backend, juma):
    r = cli("mail", "alias", "create", juma, "registrar")
    assert r.exit_code == 0, r.stderr
    r = cli("mail", "alias", "add", juma, "juma")
    assert r.exit_code == 0, r.stderr
    assert "`egactl mail alias add` is now `egactl mail alias create`" in r.stderr
    r = cli("mail", "alias", "delete", "registrar@rita.go.tz", "--yes")
    assert r.exit_code == 0, r.stderr
    r = cli("mail", "alias", "remove", "juma@rita.go.tz", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "`egactl mail alias remove` is now `egactl mail alias delete`" in r.stderr
    with backend.read_sessions() as s:
        assert list(s.scalars(select(MailAddress.address).where(MailAddress.kind == "alias"))) == []
    helped = cli("mail", "alias", "--help").stdout
    assert "create" in helped and "delete" in helped and " add " not in helped and "remove" not in helped


def test_domains_create_and_the_old_add(cli, backend):
    r = cli("mail", "domains", "create", "udom.ac.tz", "-i", "UDOM", "--naming-rule", "g.family")
    assert r.exit_code == 0, r.stderr
    r = cli("mail", "domains", "add", "rita.go.tz", "-i", "RITA")
    assert r.exit_code == 0, r.stderr
    assert "`egactl mail domains add` is now `egactl mail domains create`" in r.stderr
    with backend.read_sessions() as s:
        assert set(s.scalars(select(MailDomain.domain))) == {"udom.ac.tz", "rita.go.tz"}


def test_json_output_has_no_notice_on_stderr(cli, backend, juma):
    r = cli("mail", "alias", "add", juma, "registrar", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "is now" not in r.stderr


# -- flags ------------------------------------------------------------------------------------


def test_list_state_and_search_short_flags_and_the_old_status(cli, backend, juma):
    r = cli("mail", "create", "-i", "RITA", "--given-name", "Neema", "--family-name", "Kweka", "-e", "100000002")
    assert r.exit_code == 0, r.stderr
    assert cli("mail", "suspend", "neema.kweka@rita.go.tz", "--yes").exit_code == 0
    for args in (("--state", "suspended"), ("-s", "suspended")):
        r = cli("mail", "list", *args, "-o", "json")
        assert r.exit_code == 0, r.stderr
        assert [m["address"] for m in r.json()] == ["neema.kweka@rita.go.tz"], args
    r = cli("mail", "list", "--status", "suspended", "-o", "table")
    assert r.exit_code == 0, r.stderr
    assert "neema.kweka@rita.go.tz" in r.stdout and "juma.mrisho" not in r.stdout
    assert "`egactl mail list --status` is now `--state`" in r.stderr
    r = cli("mail", "list", "-S", "juma", "-o", "json")
    assert [m["address"] for m in r.json()] == ["juma.mrisho@rita.go.tz"]
    # -s is --state now: an old `-s juma` (a search) is a bad state, exit 2, not a silent other answer
    r = cli("mail", "list", "-s", "juma")
    assert r.exit_code == 2 and "--state" in r.stderr
    helped = cli("mail", "list", "--help").stdout
    assert "--state" in helped and "-S" in helped and "--status" not in helped


def test_create_has_no_short_name_flags_but_the_old_ones_still_work(cli, backend, juma):
    helped = cli("mail", "create", "--help").stdout
    assert "--given-name" in helped and "-g," not in helped and "-f," not in helped
    r = cli("mail", "create", "-i", "RITA", "-g", "Asha", "-f", "Said", "-e", "100000003")
    assert r.exit_code == 0, r.stderr
    assert "`egactl mail create -g` is now `--given-name`" in r.stderr
    assert "`egactl mail create -f` is now `--family-name`" in r.stderr
    assert status(backend, "asha.said@rita.go.tz") == "active"


# -- the examples in the help ---------------------------------------------------------------


def help_examples() -> list[tuple[str, str]]:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from regenerate import walk

    from egactl.cli import command

    root = command()
    ctx = root.make_context("egactl", [], resilient_parsing=True)
    mail = root.get_command(ctx, "mail")
    out = []
    for cmd, c, _ in walk(mail, mail.make_context("mail", [], parent=ctx, resilient_parsing=True)):
        if hasattr(cmd, "list_commands"):
            continue
        text = (cmd.help or "").split("Examples:", 1)[-1]
        out += [(c.command_path, line.strip()) for line in text.splitlines() if line.strip().startswith("egactl ")]
    return out


def test_every_example_in_the_help_runs_against_a_fresh_sandbox(tmp_path, monkeypatch):
    """Each example of every mail command's --help, as written, on the sandbox's seed data
    (a fresh sandbox each: the examples don't depend on one another)."""
    import shlex
    from pathlib import Path

    from typer.testing import CliRunner

    from egactl.cli import app

    examples = help_examples()
    assert len(examples) >= 2 * 27
    (tmp_path / "docs").symlink_to(Path(__file__).resolve().parents[2] / "docs")
    monkeypatch.chdir(tmp_path)
    failed = []
    for i, (path, example) in enumerate(examples):
        monkeypatch.setenv("EGACTL_DATA_DIR", str(tmp_path / f"data{i}"))
        monkeypatch.setenv("EGACTL_CONFIG_DIR", str(tmp_path / f"config{i}"))
        r = CliRunner().invoke(app, shlex.split(example)[1:])
        if r.exit_code != 0:
            failed.append(f"{example}: exit {r.exit_code}: {r.stderr.strip()[-200:]}")
    assert not failed, failed


# -- re-running a create ----------------------------------------------------------------------


def test_mailbox_create_again_is_exists_and_other_details_a_conflict(cli, backend, juma):
    def count():
        with backend.read_sessions() as s:
            return s.scalar(select(func.count()).select_from(Mailbox))

    same = ("mail", "create", "-i", "RITA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "100000001")
    r = cli(*same)
    assert r.exit_code == 0, r.stderr
    assert "juma.mrisho@rita.go.tz exists for employee 100000001 with these details; nothing changed" in r.stderr
    r = cli(*same, "-o", "json")
    assert r.exit_code == 0 and r.json()["address"] == "juma.mrisho@rita.go.tz"
    r = cli(*same, "--dry-run")
    assert r.exit_code == 0 and "exists" in r.stderr
    for other in (("--department", "HR"), ("--address", "jm@rita.go.tz")):
        r = cli(*same, *other)
        assert r.exit_code == 5 and "already has juma.mrisho@rita.go.tz" in r.stderr, other
    r = cli("mail", "create", "-i", "TRA", "--given-name", "Juma", "--family-name", "Mrisho", "-e", "100000001")
    assert r.exit_code == 5
    assert cli("mail", "delete", juma, "--yes").exit_code == 0
    assert cli(*same).exit_code == 5  # a deleted mailbox is not the one asked for
    assert count() == 1
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "create")) == 1


def test_alias_create_again_is_exists(cli, backend, juma):
    assert cli("mail", "alias", "create", juma, "registrar").exit_code == 0
    with backend.read_sessions() as s:
        version = s.scalar(select(Mailbox.version).where(Mailbox.address == juma))
    r = cli("mail", "alias", "create", juma, "registrar@rita.go.tz")
    assert r.exit_code == 0, r.stderr
    assert "registrar@rita.go.tz exists as an alias of juma.mrisho@rita.go.tz; nothing changed" in r.stderr
    with backend.read_sessions() as s:
        assert s.scalar(select(Mailbox.version).where(Mailbox.address == juma)) == version
    assert cli("mail", "create", "-i", "RITA", "--given-name", "Neema", "--family-name", "Kweka",
               "-e", "100000002").exit_code == 0
    r = cli("mail", "alias", "create", "neema.kweka@rita.go.tz", "registrar")  # another mailbox's
    assert r.exit_code == 5 and "already taken" in r.stderr


def test_list_create_again_is_exists(cli, backend, juma):
    first = ("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "ICT", "-m", juma,
             "-m", "Someone@Example.org")
    assert cli(*first).exit_code == 0
    r = cli(*first)
    assert r.exit_code == 0, r.stderr
    assert "List ict@rita.go.tz exists with these details; nothing changed" in r.stderr
    assert cli("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "ICT").exit_code == 0
    for other in (("--name", "ICT unit"), ("--name", "ICT", "-m", "other@example.org")):
        r = cli("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", *other)
        assert r.exit_code == 5 and "already taken" in r.stderr, other
    with backend.read_sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.resource_type == "mail-list")) == 1


def test_an_exists_answer_is_marked_as_the_sdk_marks_it(cli, backend, juma):
    """200 with X-Egactl-Outcome: exists, for scripts calling the API (the SDK's create rule)."""
    r = cli("api", "POST", "/api/v1/mail/domains", "-f", "domain=rita.go.tz", "-f", "institution=RITA", "--include")
    assert r.exit_code == 0, r.stderr
    assert "200" in r.stdout.splitlines()[0] and "x-egactl-outcome: exists" in r.stdout.lower()
    r = cli("api", "POST", f"/api/v1/mail/mailboxes/{juma}/aliases", "-f", "address=jm@rita.go.tz", "--include")
    assert r.stdout.splitlines()[0].split()[1] == "201"
    r = cli("api", "POST", f"/api/v1/mail/mailboxes/{juma}/aliases", "-f", "address=jm@rita.go.tz", "--include")
    assert "x-egactl-outcome: exists" in r.stdout.lower()
