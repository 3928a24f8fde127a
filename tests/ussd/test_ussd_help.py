"""Every ussd command's help has examples, and they are real: run in a sensible order
against one fresh sandbox (no profile, the backend in this process, its seed data),
every one of them succeeds."""

from __future__ import annotations

import json
import shlex

from typer.testing import CliRunner

from egactl.cli import app

ORDER = ["list", "available", "show", "history", "reserve", "assign", "update", "provision", "suspend", "resume",
         "simulate", "release", "quota list", "quota show", "quota set"]
"""Each command's examples, in an order in which they all make sense (a code is
reserved before it is assigned, suspended before it is resumed)."""


def help_examples(command: str) -> list[str]:
    """The invocations under ``Examples:`` in ``egactl ussd COMMAND --help``, continuation lines joined."""
    out = CliRunner().invoke(app, ["ussd", *command.split(), "--help"]).stdout
    assert "Examples:" in out, command
    block = out.split("Examples:", 1)[1]
    examples = []
    for para in block.split("\n\n"):
        if not para.strip():
            continue
        if not para.startswith("    egactl "):
            break  # the end of the section (Arguments:, Options:)
        examples.append(" ".join(line.strip().rstrip("\\").strip() for line in para.splitlines()))
    return examples


def test_every_ussd_command_is_in_the_walk():
    from egactl_ussd.commands import app as ussd_app
    from egactl_ussd.commands import quota

    names = {c.name for c in ussd_app.registered_commands if not c.hidden}
    names |= {f"quota {c.name}" for c in quota.app.registered_commands if not c.hidden}
    assert names == set(ORDER)


def test_every_example_in_the_help_runs_on_a_fresh_sandbox():
    runner = CliRunner()
    ran = []
    for command in ORDER:
        examples = help_examples(command)
        assert len(examples) >= 2, (command, examples)
        for example in examples:
            args = shlex.split(example)
            assert args[:2] == ["egactl", "ussd"], example
            r = runner.invoke(app, args[1:])
            assert r.exit_code == 0, (example, r.stdout, r.stderr)
            ran.append(example)
    assert len(ran) >= 2 * len(ORDER)
    # What they did is there to see: RITA's code released, the demo code live again.
    codes = runner.invoke(app, ["ussd", "list", "-o", "json"])
    states = {c["code"]: c["state"] for c in json.loads(codes.stdout)}
    assert states["*152*01#"] == "released" and states["*152*99#"] == "assigned"
