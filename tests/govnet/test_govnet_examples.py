"""Every example in a govnet command's --help works against a fresh sandbox, run in the order of a site's story."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from typer.testing import CliRunner

from egactl.cli import app, command

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from regenerate import walk  # noqa: E402  (the walk of the command reference and the grammar test)

STORY = ["pools list", "pools show", "pools create", "pools update", "sites list", "sites show", "sites create",
         "sites update", "onboard", "approve", "provision", "config", "activate", "suspend", "resume", "status",
         "history", "offboard", "import", "sites delete", "pools delete"]


def help_examples() -> dict[str, list[str]]:
    root = command()
    ctx = root.make_context("egactl", [], resilient_parsing=True)
    govnet = root.get_command(ctx, "govnet")
    found = {}
    for cmd, c, _ in walk(govnet, govnet.make_context("govnet", [], parent=ctx, resilient_parsing=True)):
        if hasattr(cmd, "list_commands"):
            continue
        text = (cmd.help or "").split("Examples:", 1)
        lines = text[1].splitlines() if len(text) == 2 else []
        found[c.command_path.removeprefix("egactl govnet ")] = [l.strip() for l in lines if l.strip().startswith("egactl ")]
    return found


def test_every_help_example_runs_against_a_fresh_sandbox(tmp_path, monkeypatch):
    examples = help_examples()
    assert sorted(examples) == sorted(STORY), "a govnet command is missing from the story (or gone)"
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    failed = []
    for name in STORY:
        assert len(examples[name]) >= 2, name
        for line in examples[name]:
            r = runner.invoke(app, shlex.split(line)[1:])
            if r.exit_code != 0:
                failed.append(f"{line}: exit {r.exit_code}: {r.stderr.strip()[-200:]}")
    assert not failed, failed
