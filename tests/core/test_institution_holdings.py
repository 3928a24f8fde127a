"""Deleting an institution that still holds something in any plugin is refused (exit 5),
naming what it holds; each plugin answers through its BackendPart's ``holdings`` hook.

The USSD registry has no foreign key to the institution: before the hook, deleting
an institution that held codes succeeded and left the codes with a holder that no
longer existed.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select

from egactl.server.models import Institution

USSD = ("--service", "RITA births", "--purpose", "Birth registration", "--callback-url", "https://ussd.rita.go.tz/u")
DR = ("--hosting", "gdc-dodoma", "--primary", "https://crvs.rita.go.tz/health", "--rpo", "15m", "--rto", "4h")


def exists(backend, code: str) -> bool:
    with backend.read_sessions() as s:
        return s.scalar(select(func.count()).select_from(Institution).where(Institution.code == code)) == 1


def refused(cli, backend, code: str, expected: str):
    r = cli("institutions", "delete", code, "--yes")
    assert r.exit_code == 5, (r.stdout, r.stderr)
    assert r.stderr.strip() == f"error: {code} still holds {expected}; release them first"
    assert exists(backend, code)
    return r


def mail_domain(backend, code: str, domain: str) -> None:
    from egactl_mail.server.models import MailDomain

    with backend.write_sessions() as s:
        s.add(MailDomain(domain=domain, institution=code, naming_rule="given.family", is_primary=True,
                         created_at=backend.now()))
        s.commit()


def test_ussd_codes(cli, backend):
    assert cli("ussd", "assign", "-i", "RITA", *USSD).exit_code == 0
    assert cli("ussd", "assign", "-i", "RITA", *USSD[:1], "RITA deaths", *USSD[2:]).exit_code == 0
    refused(cli, backend, "RITA", "2 USSD codes")
    # Released into quarantine, a code is no longer the institution's: the delete goes through.
    for code in ("*152*01#", "*152*02#"):
        r = cli("ussd", "release", code, "--reason", "service retired", "--yes")
        assert r.exit_code == 0, r.stderr
    r = cli("institutions", "delete", "RITA", "--yes")
    assert r.exit_code == 0, r.stderr
    assert not exists(backend, "RITA")


def test_mailboxes_domains_and_lists(cli, backend):
    mail_domain(backend, "RITA", "rita.go.tz")
    refused(cli, backend, "RITA", "1 mail domain")
    for i, (given, family) in enumerate([("Juma", "Mrisho"), ("Neema", "Kweka")]):
        r = cli("mail", "create", "-i", "RITA", "-g", given, "-f", family, "-e", f"10000000{i}")
        assert r.exit_code == 0, r.stderr
    assert cli("mail", "list-group", "create", "ict@rita.go.tz", "-i", "RITA", "--name", "ICT").exit_code == 0
    refused(cli, backend, "RITA", "2 mailboxes, 1 mail domain, 1 distribution list")


def test_govnet_sites(cli, backend):
    assert cli("govnet", "sites", "create", "TRA/dodoma-hq", "--region", "Dodoma").exit_code == 0
    refused(cli, backend, "TRA", "1 GovNet site")


def test_dr_systems(cli, backend):
    assert cli("dr", "systems", "add", "MOH/his", *DR).exit_code == 0
    assert cli("dr", "systems", "add", "MOH/dhis2", *DR).exit_code == 0
    refused(cli, backend, "MOH", "2 DR systems")


def test_sms_senders_and_queued_messages(cli, backend):
    assert cli("sms", "senders", "request", "NIDA", "-i", "NIDA", "--purpose", "ID notices").exit_code == 0
    refused(cli, backend, "NIDA", "1 SMS sender")
    assert cli("sms", "senders", "approve", "NIDA").exit_code == 0
    assert cli("sms", "optout", "create", "0655123456", "-i", "NIDA").exit_code == 0
    r = cli("sms", "send", "Kitambulisho chako kipo tayari", "--to", "0754123456", "-i", "NIDA",
            "--at", "2099-01-01 10:00")
    assert r.exit_code == 0, r.stderr
    r = refused(cli, backend, "NIDA", "1 SMS sender, 1 opt-out, 1 queued message, 1 SMS batch (history)")


def test_every_plugin_at_once_and_json(cli, backend):
    assert cli("ussd", "assign", "-i", "UDOM", *USSD).exit_code == 0
    assert cli("govnet", "sites", "create", "UDOM/main", "--region", "Dodoma").exit_code == 0
    assert cli("dr", "systems", "add", "UDOM/aris", *DR).exit_code == 0
    mail_domain(backend, "UDOM", "udom.ac.tz")
    r = cli("institutions", "delete", "UDOM", "--yes", "-o", "json")
    assert r.exit_code == 5
    problem = json.loads(r.stderr)["problem"]
    assert problem["holdings"] == {"dr": {"DR systems": 1}, "govnet": {"GovNet sites": 1},
                                   "mail": {"mail domains": 1}, "ussd": {"USSD codes": 1}}
    assert problem["detail"] == ("UDOM still holds 1 DR system, 1 GovNet site, 1 mail domain, 1 USSD code; "
                                 "release them first")


def test_an_institution_holding_nothing_is_deleted(cli, backend):
    r = cli("institutions", "delete", "KINONDONI-MC", "--yes")
    assert r.exit_code == 0, r.stderr
    assert not exists(backend, "KINONDONI-MC")


def test_every_built_in_plugin_answers_the_hook(backend):
    assert set(backend.parts) == {"dr", "esb", "govnet", "mail", "sms", "ussd"}
    with backend.read_sessions() as s:
        for name, part in backend.parts.items():
            assert part.holdings is not None, name
            assert set(part.holdings(s, "ARUSHA-CC").values()) <= {0}, name


# -- a delete racing a create, on a real server ------------------------------------------------


def race_delete_against_assign(server, rounds: int = 6) -> list[tuple[int, int]]:
    """Per round: a fresh institution, then `ussd assign` and `institutions delete` at once.
    Returns the (assign, delete) exit codes; asserts nothing was left pointing at nothing."""
    outcomes = []
    for i in range(rounds):
        code = f"RACE-{i}"
        r = server.run("institutions", "create", code, "--name", f"Race {i}", "--kind", "agency")
        assert r.returncode == 0, r.stderr
        assign = server.popen("ussd", "assign", "-i", code, *USSD)
        delete = server.popen("institutions", "delete", code, "--yes")
        a_out, a_err = assign.communicate(timeout=300)
        d_out, d_err = delete.communicate(timeout=300)
        outcomes.append((assign.returncode, delete.returncode))
        assert (assign.returncode, delete.returncode) in {(0, 5), (3, 0)}, (a_err, d_err)
        if delete.returncode == 5:
            assert f"{code} still holds 1 USSD code; release them first" in d_err
        held = json.loads(server.run("ussd", "list", "-i", code, "-o", "json").stdout or "[]") \
            if delete.returncode == 5 else []
        shown = server.run("institutions", "show", code, "-o", "json")
        assert (shown.returncode == 0) == (delete.returncode == 5)
        assert len(held) == (1 if delete.returncode == 5 else 0)
    return outcomes


def test_delete_racing_a_create_on_sqlite(served):
    race_delete_against_assign(served)


def test_delete_racing_a_create_on_postgresql(tmp_path, postgres_url):
    from conftest import start_server

    server = start_server(tmp_path, postgres_url)
    try:
        race_delete_against_assign(server)
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
