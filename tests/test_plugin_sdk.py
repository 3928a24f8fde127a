"""The plugin SDK (egactl.plugin and its modules): its surface, its rules, and
the guarantees it gives every plugin alike."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from test_cli_lazy import HEAVY, imported

SDK = ("egactl.plugin", "egactl.plugin.cli", "egactl.plugin.server", "egactl.plugin.rules", "egactl.plugin.testing")


@pytest.mark.parametrize("name", SDK)
def test_every_module_declares_its_surface(name):
    module = importlib.import_module(name)
    assert module.__doc__ and module.__all__
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


def test_the_sdk_has_a_version_of_its_own():
    import egactl
    import egactl.plugin

    assert egactl.plugin.__version__ == "1.0"
    assert egactl.plugin.__version__ != egactl.__version__


@pytest.mark.parametrize("name, forbidden", [
    # `egactl --help` reads plugins' declarations: the declaration module pulls in no backend and no CLI library.
    ("egactl.plugin", ("egactl.server", "typer", "httpx")),
    # Every plugin command imports the command side, `--help` included: no backend, no heavy library.
    ("egactl.plugin.cli", ("egactl.server", "httpx")),
])
def test_the_sdk_stays_import_light(name, forbidden):
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {name}"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = imported(r.stderr)
    heavy = {m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(forbidden)}
    assert heavy == set()


def test_a_broken_rule_is_one_usage_error_naming_the_flag():
    from egactl.plugin.cli import EXIT_USAGE, InvalidInput, enforce
    from egactl.plugin.rules import RuleError, check_email, split_reference

    assert enforce(check_email, "a@rita.go.tz") == "a@rita.go.tz"
    assert enforce(split_reference, "rita/crvs") == ("RITA", "crvs")
    with pytest.raises(InvalidInput) as exc:
        enforce(check_email, "nobody", flag="--contact-email")
    assert exc.value.exit_code == EXIT_USAGE == 2
    assert str(exc.value) == "--contact-email: 'nobody' is not an e-mail address"
    with pytest.raises(InvalidInput, match=r"^--system: 'crvs' must be INSTITUTION/NAME"):
        enforce(split_reference, "crvs", flag="--system")
    with pytest.raises(RuleError, match="institution code 'R' must be 2-32"):
        split_reference("r/crvs")
    with pytest.raises(RuleError, match="must not begin with '='"):
        split_reference("RITA/=cmd")


# Every plugin gives an operator the same answer for another institution's data (it used
# to be an empty list in dr and govnet, and a refusal in mail).
@pytest.mark.parametrize("args", [
    ("dr", "systems", "list"), ("dr", "drills", "list"), ("dr", "report"),
    ("govnet", "sites", "list"),
    ("mail", "list"), ("mail", "domains", "list"), ("mail", "list-group", "list"),
])
def test_another_institutions_data_is_refused_alike_in_every_plugin(cli, args):
    mine = cli(*args, "-i", "RITA", "-o", "json", role="operator")
    assert mine.exit_code == 0, mine.stderr
    theirs = cli(*args, "-i", "TRA", "-o", "json", role="operator")
    assert theirs.exit_code == 4, theirs.stdout
    assert "this token may not read resources of institution TRA" in theirs.stderr
    assert theirs.stdout == ""
    # The admin and the help desk read every institution.
    assert cli(*args, "-i", "TRA", "-o", "json", role="helpdesk").exit_code == 0
