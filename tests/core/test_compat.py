"""egactl._compat: each shim over a library's internals does what it claims, against the installed library.

A library upgrade that changes what a shim relies on fails here, by name, rather
than somewhere in a command. Nothing here asserts a time.
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pytest
import typer
import typer.main

from egactl._compat import startup, typer_internals
from egactl._compat.typer_internals import UNSURE, LeanCoercion, lean_value

# -- lean value conversion == typer's own -----------------------------------------------


class Color(str, enum.Enum):
    red = "red"
    green = "green"
    dark_blue = "dark-blue"


class Level(enum.Enum):  # not a str enum: values are ints
    low = 1
    high = 2


SCALAR_TYPES: dict[str, Any] = {
    "str": str, "int": int, "float": float, "Optional[int]": Optional[int], "Optional[str]": Optional[str],
    "Color": Color, "Level": Level, "Literal": Literal["json", "table", "3"], "Path": Path,
}
LIST_TYPES: dict[str, Any] = {
    "list[str]": list[str], "list[int]": list[int], "list[float]": list[float], "list[Color]": list[Color],
    "list[Literal]": list[Literal["a", "b"]], "Optional[list[int]]": Optional[list[int]],
}
OPTION_VARIANTS: dict[str, dict] = {
    "plain": {}, "ranged": {"min": 0, "max": 10}, "min-only": {"min": -5}, "clamped": {"min": 0, "max": 10, "clamp": True},
    "case-insensitive": {"case_sensitive": False}, "float-range": {"min": 0.5, "max": 2.5},
}
STRINGS = ["0", "1", "-1", "+1", "007", "10", "11", "-5", "-6", "1.5", "-0.5", "0.5", "2.5", "2.6", ".5", "5.",
           "1e3", " 1", "1 ", "abc", "", "1_000", "\u0663", "99999999999999999999", "123456789012345678", "0x10",
           "nan", "inf", "-inf", "json", "JSON", "table", "3", "red", "RED", "Red", "green", "dark-blue", "dark_blue",
           "low", "1.0", "a", "b", "A", "true", "None", "ünï", "red ", "0.1234567890123456"]
OTHER_SCALARS = [0, 5, 11, -6, 1.5, 2.75, True, Color.red, Level.high, b"1"]
SEQUENCES = [("1", "2"), ("a",), (), ["3", "11"], ("1", "x"), ("red", "GREEN"), ("a", "b", "a"), ("1.5", "2"), ("",),
             (1, 2), ("-6",), "12"]


def command_param(annotation: Any, option: dict) -> tuple[Any, Any]:
    """A real typer command with one option `--x` of this type; returns (click parameter, context)."""
    app = typer.Typer(add_completion=False)

    def command(x=None):  # the annotation is set below: typer reads it like a written one
        pass

    command.__annotations__ = {"x": Annotated[annotation, typer.Option("--x", **option)]}
    app.command()(command)
    cmd = typer.main.get_command(app)
    (param,) = [p for p in cmd.params if p.name == "x"]
    return param, cmd.context_class(cmd)


def outcome(convert, value, param, ctx) -> tuple:
    try:
        result = convert(value, param, ctx)
    except Exception as exc:  # typer's error is part of what must match
        return ("error", type(exc).__name__, str(exc))
    items = result if isinstance(result, (list, tuple)) else [result]
    return ("value", type(result).__name__, repr(result), [type(i).__name__ for i in items])


CASES = [(t, v) for t in {**SCALAR_TYPES, **LIST_TYPES} for v in OPTION_VARIANTS]
needs_runtime_coercion = pytest.mark.skipif(not typer_internals.lean_coercion_available(),
                                            reason="this typer converts without pydantic; the lean conversion is not used")


@needs_runtime_coercion
@pytest.mark.parametrize("type_name,variant", CASES, ids=[f"{t}-{v}" for t, v in CASES])
def test_lean_conversion_equals_typers_own(type_name, variant):
    annotation = {**SCALAR_TYPES, **LIST_TYPES}[type_name]
    try:
        param, ctx = command_param(annotation, OPTION_VARIANTS[variant])
        typers = typer_internals.typer_coercion(param.type_descriptor)
    except Exception:  # typer refuses the combination (e.g. a float range on an int): nothing to compare
        pytest.skip(f"typer does not build {type_name} with {variant}")
    lean = LeanCoercion(param.type_descriptor)
    many = param.multiple or param.nargs == -1
    values = values_for(many)
    mismatches, fast = [], 0
    for value in values:
        expected = outcome(lambda v, p, c: typers.coerce(v, param=p, ctx=c), value, param, ctx)
        got = outcome(lean.coerce, value, param, ctx)
        if got != expected:
            mismatches.append((value, expected, got))
        if value is not None and lean_value(param.type_descriptor, value, many, ctx) is not UNSURE:
            fast += 1
    assert mismatches == []
    if type_name != "Path":  # the lean path is taken, or this compares typer with itself
        assert fast > 0


@needs_runtime_coercion
def test_lean_conversion_takes_the_fast_path_for_plain_values():
    """The saving is real: str, int, float and choices given plainly never reach typer's (pydantic) conversion."""
    for annotation, value, expected in [(str, "abc", "abc"), (int, "-7", -7), (float, "2.5", 2.5), (float, "3", 3.0),
                                        (Color, "RED", UNSURE), (Color, "red", Color.red),
                                        (Literal["json", "table"], "json", "json"), (list[int], ("1", "2"), [1, 2]),
                                        (int, "1e3", UNSURE), (Path, "x", UNSURE)]:
        param, ctx = command_param(annotation, {})
        many = param.multiple or param.nargs == -1
        assert lean_value(param.type_descriptor, value, many, ctx) == expected or (
            expected is UNSURE and lean_value(param.type_descriptor, value, many, ctx) is UNSURE), (annotation, value)


@needs_runtime_coercion
def test_lean_conversion_equals_typers_own_on_any_text():
    from hypothesis import given, settings, strategies as st

    params = {name: command_param(t, opt) for name, t, opt in [
        ("str", str, {}), ("int", int, {}), ("float", float, {}), ("int-ranged", int, {"min": -3, "max": 40}),
        ("float-ranged", float, {"min": 0.5, "max": 2.5}), ("Color", Color, {"case_sensitive": False}),
        ("list[int]", list[int], {})]}
    coercers = {name: (typer_internals.typer_coercion(p.type_descriptor), LeanCoercion(p.type_descriptor))
                for name, (p, _) in params.items()}
    numeric = st.from_regex(r"[+-]?[0-9]{0,20}(\.[0-9]{0,17})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)

    @settings(max_examples=300, deadline=None, database=None)
    @given(name=st.sampled_from(sorted(params)), text=st.one_of(numeric, st.text(max_size=12)),
           many=st.lists(numeric, max_size=4))
    def check(name, text, many):
        param, ctx = params[name]
        typers, lean = coercers[name]
        value = tuple(many) if param.multiple else text
        assert outcome(lean.coerce, value, param, ctx) == outcome(
            lambda v, p, c: typers.coerce(v, param=p, ctx=c), value, param, ctx)

    check()


def values_for(many: bool) -> list:
    return [*STRINGS, *OTHER_SCALARS, *SEQUENCES, None] + ([list(s) for s in SEQUENCES] if many else [])


def test_the_case_table_is_large():
    """The table above compares thousands of (type, option, value) cases, not a handful."""
    many = {name for name in LIST_TYPES}
    total = sum(len(values_for(t in many)) for t, _ in CASES)
    assert total > 5000, total


LEAN_PROBE = textwrap.dedent('''\
    import sys
    from typing import Annotated, Optional
    import typer
    from egactl._compat import typer_internals
    if sys.argv[1] == "lean":
        typer_internals.install_lean_coercion()
    app = typer.Typer(add_completion=False)
    @app.command()
    def run(name: Annotated[str, typer.Option()] = "x", count: Annotated[int, typer.Option(min=0)] = 1,
            tags: Annotated[Optional[list[str]], typer.Option()] = None):
        print(repr((name, count, tags)))
    app(["--name", "RITA", "--count", "3", "--tags", "a", "--tags", "b"], standalone_mode=False)
    print("pydantic" in sys.modules)
''')


def run_probe(mode: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", LEAN_PROBE, mode], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


@needs_runtime_coercion
def test_install_lean_coercion_keeps_pydantic_out_and_values_the_same():
    assert run_probe("typer") == ["('RITA', 3, ['a', 'b'])", "True"]  # typer alone imports pydantic...
    assert run_probe("lean") == ["('RITA', 3, ['a', 'b'])", "False"]  # ...the lean conversion does not


def test_install_lean_coercion_is_idempotent_and_says_whether_it_applies():
    installed = typer_internals.install_lean_coercion()
    assert installed == typer_internals.lean_coercion_available()
    assert typer_internals.install_lean_coercion() == installed
    if installed:
        from typer.core import _TyperParameter

        assert _TyperParameter.get_runtime_param.egactl_lean
        param, _ = command_param(int, {})
        assert isinstance(param.get_runtime_param(), LeanCoercion)


# -- shell completion -------------------------------------------------------------------


def egactl_executable() -> list[str]:
    """The installed `egactl` script next to this interpreter (what a shell runs), else `python -m egactl`."""
    script = Path(sys.executable).parent / "egactl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "egactl"]


def complete(shell: str, line: str) -> subprocess.CompletedProcess:
    """Ask egactl for completions as the shell's script does (the _TYPER_COMPLETE / COMP_WORDS protocol)."""
    env = dict(os.environ, _EGACTL_COMPLETE=f"complete_{shell}")
    if shell == "bash":
        words = line.split(" ")
        env.update(COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    else:
        env.update(_TYPER_COMPLETE_ARGS=line)
        if shell == "fish":
            env.update(_TYPER_COMPLETE_FISH_ACTION="get-args")
    return subprocess.run(egactl_executable(), env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("shell,line,expected", [
    ("bash", "egactl ins", ["institutions"]),
    ("bash", "egactl institutions ", ["list", "show", "create", "update", "delete", "import"]),
    ("bash", "egactl institutions list --li", ["--limit"]),
    ("bash", "egactl --ou", ["--output"]),
    ("bash", "egactl -o js", ["json", "jsonl"]),
    ("bash", "egactl institutions list -o c", ["csv"]),  # global options complete after a subcommand too
    ("bash", "egactl sms list --no-c", ["--no-color"]),
    ("bash", "egactl sms list -i KIN", ["KINONDONI-MC"]),
    ("bash", "egactl institutions show ARU", ["ARUSHA-CC"]),  # institution codes from the API (the sandbox here)
    ("zsh", "egactl ins", ['_arguments \'*: :(("institutions":"The directory of public institutions"))\'']),
    ("zsh", "egactl institutions li", ['_arguments \'*: :(("list":"List institutions."))\'']),
    ("fish", "egactl ins", ["institutions\tThe directory of public institutions"]),
    ("fish", "egactl institutions sh", ["show\tShow one institution."]),
])
def test_tab_completion_through_the_real_executable(shell, line, expected):
    r = complete(shell, line)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    got = r.stdout.splitlines()
    if shell == "bash" and line.endswith(" "):
        assert set(expected) <= set(got)
    else:
        assert got == expected


def test_tab_completion_in_real_bash_with_the_printed_script(tmp_path):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash on this machine")
    # The script runs `env ... egactl`, so `egactl` on PATH must be this one.
    wrapper = tmp_path / "bin" / "egactl"
    wrapper.parent.mkdir()
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{part}'" for part in egactl_executable()) + ' "$@"\n')
    wrapper.chmod(0o755)
    program = textwrap.dedent('''\
        eval "$(egactl completion bash)"
        COMP_WORDS=(egactl ins); COMP_CWORD=1
        _egactl_completion egactl
        printf '%s\\n' "${COMPREPLY[@]}"
        COMP_WORDS=(egactl institutions sh); COMP_CWORD=2
        _egactl_completion egactl
        printf '%s\\n' "${COMPREPLY[@]}"
        ''')
    env = dict(os.environ, PATH=f"{wrapper.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run([bash, "--norc", "-c", program], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["institutions", "show"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_calls_back_with_the_complete_variable(shell):
    text = typer_internals.completion_script(prog_name="egactl", complete_var="_EGACTL_COMPLETE", shell=shell)
    assert f"_EGACTL_COMPLETE=complete_{shell}" in text.replace('"', "").replace("'", "")
    assert "egactl" in text


def test_completion_item_is_the_class_typer_completes_with():
    app = typer.Typer(add_completion=False)

    @app.command()
    def run(fmt: Annotated[str, typer.Option("--fmt")] = "x"):
        pass

    cmd = typer.main.get_command(app)
    (theirs,) = cmd.shell_complete(cmd.context_class(cmd), "--f")
    ours = typer_internals.completion_item("institutions", help="The directory")
    assert type(ours) is type(theirs)
    assert (ours.value, ours.help, ours.type) == ("institutions", "The directory", "plain")


def test_is_library_exception_tells_typers_exceptions_from_ours():
    from egactl.errors import EgactlError

    for exc in (typer.Exit(2), typer.Abort(), typer.BadParameter("x")):
        assert typer_internals.is_library_exception(exc), exc
    from typer.main import get_command  # a usage error as typer raises it, whatever click it uses

    cmd = get_command(typer.Typer(add_completion=False, callback=lambda: None))
    with pytest.raises(Exception) as raised:
        cmd.main(["--nope"], standalone_mode=False)
    assert typer_internals.is_library_exception(raised.value)
    for exc in (EgactlError("x"), ValueError("x"), KeyError("x")):
        assert not typer_internals.is_library_exception(exc), exc


# -- start-up shortcuts -----------------------------------------------------------------

STARTUP_PROBE = textwrap.dedent('''\
    import sys
    from egactl._compat import startup
    mode = sys.argv[1]
    if mode == "shortcut":
        with startup.unused_modules_absent() as marked:
            import httpx, httpcore
            print(sorted(marked))
            print(sorted(n for n, m in sys.modules.items() if m is None and n in startup.UNUSED_OPTIONAL_MODULES))
    else:
        import httpx, httpcore
    print(sorted(n for n in ("httpx._main", "trio", "click", "pygments") if sys.modules.get(n) is not None))
    print(sorted(n for n in startup.UNUSED_OPTIONAL_MODULES if n in sys.modules and sys.modules[n] is None))
''')


def startup_probe(mode: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", STARTUP_PROBE, mode], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_unused_modules_absent_marks_exactly_its_names_and_spares_their_import():
    plain = startup_probe("plain")
    assert "'httpx._main'" in plain[0]  # without the shortcut httpx imports its command-line tool
    marked, during, after, left = startup_probe("shortcut")
    assert marked == during == str(sorted(startup.UNUSED_OPTIONAL_MODULES))
    assert "httpx._main" not in after and "trio" not in after and "pygments" not in after
    assert left == "[]"  # the marks are gone once the block ends


def test_unused_modules_absent_leaves_imported_modules_and_other_marks_alone(monkeypatch):
    sentinel = type(sys)("trio")
    monkeypatch.setitem(sys.modules, "trio", sentinel)
    monkeypatch.delitem(sys.modules, "httpx._main", raising=False)
    with startup.unused_modules_absent() as marked:
        assert marked == ["httpx._main"]
        assert sys.modules["trio"] is sentinel and sys.modules["httpx._main"] is None
        with pytest.raises(ImportError):
            import httpx._main  # noqa: F401
        sys.modules["httpx._main"] = sentinel  # something imported it for real meanwhile: keep it
    assert sys.modules["trio"] is sentinel and sys.modules["httpx._main"] is sentinel
    monkeypatch.delitem(sys.modules, "httpx._main")


def test_stdout_pipe_closed_recognises_the_wrapper_click_leaves(monkeypatch):
    from egactl._compat.typer_internals import stdout_pipe_closed

    try:
        from typer._click.utils import PacifyFlushWrapper
    except ImportError:  # a typer that uses click itself
        from click.utils import PacifyFlushWrapper
    assert not stdout_pipe_closed()
    monkeypatch.setattr(sys, "stdout", PacifyFlushWrapper(sys.stdout))
    assert stdout_pipe_closed()
