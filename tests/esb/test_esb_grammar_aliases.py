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


def test_the_clock_check_reads_the_first_of_two_joined_date_headers():
    """A server in front of the bus adds its own Date (uvicorn does): httpx joins the two."""
    import datetime as dt

    from egactl_esb.commands.check import _clock

    class Ctx:
        def now(self):
            return dt.datetime(2026, 11, 30, 6, 48, 20, tzinfo=dt.timezone.utc)

    row = _clock(Ctx(), "Mon, 30 Nov 2026 06:48:18 GMT, Mon, 30 Nov 2026 06:48:18 GMT")
    assert (row["state"], row["detail"]) == ("OK", "the bus's clock is 2 s behind this machine's")
    assert _clock(Ctx(), "Mon, 30 Nov 2026 06:48:18 -0000")["state"] == "OK"
