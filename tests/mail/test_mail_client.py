"""mail: every API path is built in egactl_mail/client.py, each segment quoted; no command builds one."""

from __future__ import annotations

import re
from pathlib import Path

import egactl_mail
from egactl_mail import client

COMMANDS = Path(egactl_mail.__file__).parent / "commands"
# A call on the API client (``ctx.api().post(...)``, ``api.get(...)``) or a path of the API.
DIRECT = re.compile(r"\bapi(\(\))?\.(get|get_with_etag|post|patch|update|delete|list|paginate|request)\(|/api/|client\.BASE")


def test_no_command_builds_an_api_path_or_calls_the_api_itself():
    offending = [f"{path.name}:{n}: {line.strip()}" for path in sorted(COMMANDS.glob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), 1) if DIRECT.search(line)]
    assert offending == []


def test_every_segment_is_quoted():
    assert client.mailbox_path(" juma.mrisho@rita.go.tz ") == "/api/v1/mail/mailboxes/juma.mrisho@rita.go.tz"
    assert client.mailbox_path("AB/12?x#y") == "/api/v1/mail/mailboxes/AB%2F12%3Fx%23y"
    assert client.list_path("ICT@Rita.go.tz") == "/api/v1/mail/lists/ict@rita.go.tz"
    assert client.alias_path("a/b@rita.go.tz") == "/api/v1/mail/aliases/a%2Fb@rita.go.tz"


def test_a_mailbox_reference_with_a_slash_is_not_found_not_another_route(cli):
    r = cli("mail", "show", "AB/12")
    assert r.exit_code == 3, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
