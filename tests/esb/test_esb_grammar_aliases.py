"""The bus's own words for its three endpoints still work: `esb request`, `esb push` and `esb nida`
are `esb send` with the endpoint preset (one command in help and the reference)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("alias, same", [
    (["esb", "request", "RITA-NOPE"], ["esb", "send", "RITA-NOPE"]),
    (["esb", "push", "RITA-NOPE"], ["esb", "send", "--push", "RITA-NOPE"]),
    (["esb", "nida", "RITA-NOPE", "--user-id", "19900101-12345-00001-22"],
     ["esb", "send", "RITA-NOPE", "--user-id", "19900101-12345-00001-22"]),
])
def test_an_endpoints_name_is_esb_send_with_that_endpoint(cli, alias, same):
    a, b = cli(*alias), cli(*same)
    assert "No such command" not in a.stderr
    assert (a.exit_code, a.stdout, a.stderr) == (b.exit_code, b.stdout, b.stderr)


def test_the_aliases_are_not_in_help(cli):
    names = {line.split()[0] for line in cli("esb", "--help").stdout.splitlines() if line.startswith("  ") and line.strip()}
    assert "send" in names and not {"request", "push", "nida"} & names
