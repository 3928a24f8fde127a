"""One grammar for every command, core and plugins: the command tree is walked and judged.

- every leaf command is named by a verb of ``egactl.grammar.VERBS``;
- every leaf command's help has an Examples section with at least two real
  invocations (``egactl ...``);
- every ``list`` command's first example runs against a fresh sandbox, and
  ``-o wide`` shows more columns than the table;
- a short flag means one thing across the tool, and lifecycle state is ``--state``;
- help labels values plainly (no ``<bool>``, ``<int range>``, ``[[X]]``, ``{X}``).

Parametrised by top-level command, so a failure names the service.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from typer.testing import CliRunner

from egactl.cli import CORE_GROUPS, app, command
from egactl.discovery import found
from egactl.grammar import TOP_LEVEL_COMMANDS, VERBS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from regenerate import walk  # noqa: E402  (the same walk as the command reference)

TOP = list(CORE_GROUPS) + [n for n in found() if n not in CORE_GROUPS]

# Services whose commands do not follow the grammar yet, per test: each is expected
# to fail (strictly: the day it passes, it must leave its set).
NOT_YET: dict[str, set[str]] = {"verbs": set(), "examples": set(), "state": set(), "wide": set()}


def services(test: str) -> list[Any]:
    return [pytest.param(n, id=n, marks=[pytest.mark.xfail(strict=True, reason="not yet converted")]
                         if n in NOT_YET[test] else []) for n in TOP]


def leaves(top: str) -> Iterator[tuple[str, Any]]:
    root = command()
    ctx = root.make_context("egactl", [], resilient_parsing=True)
    sub = root.get_command(ctx, top)
    sub_ctx = sub.make_context(top, [], parent=ctx, resilient_parsing=True)
    for cmd, c, children in walk(sub, sub_ctx):
        if not hasattr(cmd, "list_commands"):
            yield c.command_path, cmd


def examples(cmd: Any) -> list[str]:
    """The invocations under ``Examples:`` in a command's help."""
    text = cmd.help or ""
    if "Examples:" not in text:
        return []
    after = text.split("Examples:", 1)[1]
    return [line.strip() for line in after.splitlines() if line.strip().startswith("egactl ")]


@pytest.mark.parametrize("top", services("verbs"))
def test_every_leaf_command_is_named_by_a_verb_of_the_vocabulary(top):
    strays = []
    for path, _ in leaves(top):
        verb = path.split()[-1]
        if path.count(" ") == 1 and verb in TOP_LEVEL_COMMANDS:
            continue
        if verb not in VERBS:
            strays.append(path)
    assert not strays, f"verbs outside egactl.grammar.VERBS: {strays}"


@pytest.mark.parametrize("top", services("examples"))
def test_every_leaf_command_has_examples_in_its_help(top):
    missing = [path for path, cmd in leaves(top) if len(examples(cmd)) < 2]
    assert not missing, f"commands whose --help has fewer than two examples: {missing}"


@pytest.mark.parametrize("top", services("state"))
def test_lifecycle_state_is_spelled_state(top):
    wrong = [f"{path} --status" for path, cmd in leaves(top)
             for p in cmd.params if "--status" in getattr(p, "opts", ())]
    assert not wrong, wrong


def _headers(out: str) -> list[str]:
    first = out.splitlines()[0] if out.strip() else ""
    return first.split()


@pytest.mark.parametrize("top", services("wide"))
def test_list_commands_run_their_first_example_and_show_more_with_wide(top):
    runner = CliRunner()
    problems = []
    for path, cmd in leaves(top):
        if not path.endswith(" list"):
            continue
        shown = examples(cmd)
        if not shown:
            problems.append(f"{path}: no example to run")
            continue
        args = shlex.split(shown[0])[1:]
        table = runner.invoke(app, args + ["-o", "table"])
        wide = runner.invoke(app, args + ["-o", "wide"])
        if table.exit_code != 0 or wide.exit_code != 0:
            problems.append(f"{shown[0]!r}: exit {table.exit_code}/{wide.exit_code}: {table.stderr.strip()[:200]}")
        elif not len(_headers(wide.stdout)) > len(_headers(table.stdout)) > 0:
            problems.append(f"{shown[0]!r}: -o wide shows no more columns ({_headers(wide.stdout)})")
    assert not problems, problems


def test_a_short_flag_means_one_thing_across_the_tool():
    meanings: dict[str, set[str]] = {}
    for top in TOP:
        for path, cmd in leaves(top):
            if top == "api":
                continue  # `egactl api` keeps gh api's -f/-F/-H for fields and headers
            for p in cmd.params:
                opts = getattr(p, "opts", [])
                longs = [o for o in opts if o.startswith("--")]
                for short in (o for o in opts if re.fullmatch(r"-[A-Za-z]", o)):
                    meanings.setdefault(short, set()).add(longs[0] if longs else short)
    clashes = {s: sorted(m) for s, m in meanings.items() if len(m) > 1}
    assert not clashes, clashes


@pytest.mark.parametrize("top", TOP)
def test_help_labels_values_plainly(top):
    runner = CliRunner()
    bad = []
    for path, cmd in leaves(top):
        out = runner.invoke(app, path.split()[1:] + ["--help"], env={"COLUMNS": "80"}).stdout
        shown = [line.strip() for line in out.splitlines()]
        for example in examples(cmd):  # never re-wrapped at 80 columns: it copies as one command
            if example not in shown:
                bad.append(f"{path}: example cut at 80 columns: {example}")
        for pattern in (r"<bool>", r"<int", r"<str>", r"<list\[", r"\[\[", r"\{[A-Z]", r"\[x>="):
            if re.search(pattern, out):
                bad.append(f"{path}: {pattern}")
    assert not bad, bad
