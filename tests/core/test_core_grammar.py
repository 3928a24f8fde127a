"""The core commands in the one grammar (issue 12): new names and flags work, old ones keep
working for a release with a notice on stderr, and help shows only the new spelling."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from egactl.cli import app
from egactl.server.models import ApiToken

OLD_NAME = "`egactl serve create-token` is now `egactl serve tokens create`"


def _egactl(*args: str):
    return CliRunner().invoke(app, list(args))


def _tokens(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [(r.subject, r.role) for r in conn.execute(select(ApiToken.subject, ApiToken.role))]
    finally:
        engine.dispose()


def test_serve_tokens_create_issues_a_token_in_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'server.db'}"
    r = _egactl("serve", "tokens", "create", "--role", "admin", "--subject", "root@ega.go.tz",
                "--database-url", url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["token"].startswith("ega_") and made["role"] == "admin"
    assert r.stderr == ""
    assert _tokens(url) == [("root@ega.go.tz", "admin")]


def test_serve_create_token_is_the_old_name_with_a_notice(tmp_path):
    url = f"sqlite:///{tmp_path / 'server.db'}"
    r = _egactl("serve", "create-token", "--role", "helpdesk", "--subject", "desk@ega.go.tz", "--database-url", url)
    assert r.exit_code == 0, r.stderr
    assert OLD_NAME in r.stderr
    assert r.stdout.strip().startswith("ega_")  # the token alone on stdout, as before
    assert _tokens(url) == [("desk@ega.go.tz", "helpdesk")]
    help_ = _egactl("serve", "--help").stdout
    assert "tokens" in help_ and "create-token" not in help_


def test_serve_still_runs_as_the_group_callback_with_its_subcommands(tmp_path):
    """`egactl serve` is a group whose callback runs the server: a subcommand must not start it."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    r = _egactl("serve", "--port", "1", "tokens", "create", "--role", "admin", "--database-url", url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "egactl backend on" not in r.stderr


def test_api_include_has_no_short_flag_and_old_i_still_works(cli):
    r = cli("api", "GET", "institutions/RITA", "-i")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "HTTP/1.1 200 OK"
    assert "`egactl api -i` is now `--include`" in r.stderr
    r = cli("api", "GET", "institutions/RITA", "--include")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout.startswith("HTTP/1.1 200 OK")
    assert "-i, --include" not in _egactl("api", "--help").stdout


def test_institutions_search_is_capital_s_and_old_s_still_works(cli):
    r = cli("institutions", "list", "-S", "council", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert sorted(i["code"] for i in r.json()) == ["ARUSHA-CC", "KINONDONI-MC"]
    r = cli("institutions", "list", "-s", "council")
    assert r.exit_code == 0, r.stderr
    assert "`egactl institutions list -s` is now `--search`" in r.stderr
    assert "ARUSHA-CC" in r.stdout and "RITA" not in r.stdout
    help_ = _egactl("institutions", "list", "--help").stdout
    assert "-S, --search" in help_ and "-s," not in help_


def _headers(args: list[str]) -> list[str]:
    r = _egactl(*args)
    assert r.exit_code == 0, r.stderr
    return r.stdout.splitlines()[0].split()


def test_wide_shows_more_in_the_config_listings():
    assert _egactl("config", "set", "institution", "RITA", "--profile", "prod").exit_code == 0
    assert _headers(["config", "list"]) == ["KEY", "VALUE", "SOURCE"]
    assert _headers(["config", "list", "-o", "wide"]) == ["KEY", "VALUE", "SOURCE", "ENV", "DESCRIPTION"]
    assert _headers(["config", "profiles"]) == ["NAME", "CURRENT", "API"]
    wide = _egactl("config", "profiles", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "CURRENT", "API", "INSTITUTION", "OUTPUT"]
    assert wide[1].split() == ["prod", "no", "sandbox", "RITA", "table"]


def test_wide_shows_more_for_tokens_and_plugins(cli):
    table = cli("auth", "tokens", "list").stdout.splitlines()[0].split()
    wide = cli("auth", "tokens", "list", "-o", "wide").stdout.splitlines()[0].split()
    assert "CREATED" not in table and "CREATED" in wide
    assert _headers(["plugins", "list", "-o", "wide"])[-3:] == ["PACKAGE", "COMMANDS", "BACKEND"]
    assert "BACKEND" not in _headers(["plugins", "list"])


def test_a_new_sandbox_audits_its_example_data():
    """So that `egactl audit list`, like every list, shows something from the first use on."""
    r = _egactl("audit", "list", "-o", "json", "--query", "[].[actor, action, resource_id]")
    assert r.exit_code == 0, r.stderr
    from egactl.server.seed import INSTITUTIONS

    created = [e for e in json.loads(r.stdout) if e[1] == "create" and e[2] in {code for code, *_ in INSTITUTIONS}]
    assert created == [["sandbox", "create", code] for code, *_ in reversed(INSTITUTIONS)]
