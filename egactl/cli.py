"""The root command: global options, lazy core groups and plugins, one error handler.

Startup cost is a feature: the root is a plain click group whose subcommands
are imported only when invoked (click's "lazy group" pattern). ``--help`` reads
the plugins' one-line help without importing them (see ``egactl.discovery``).

Global options may appear anywhere on the command line, as with kubectl:
``egactl -o json institutions list`` and ``egactl institutions list -o json``
mean the same; ``--`` ends option hoisting.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from egactl import __version__
from egactl.config import OUTPUT_FORMATS
from egactl.errors import EXIT_FAILURE, EgactlError

# name -> (module with a typer app called `app`, one-line help). Listed here so
# that `egactl --help` imports none of them.
CORE_GROUPS: dict[str, tuple[str, str]] = {
    "auth": ("egactl.commands.auth", "Log in, log out, show who you are; manage API tokens (admins)"),
    "config": ("egactl.commands.config", "Profiles and settings"),
    "institutions": ("egactl.commands.institutions", "The directory of public institutions"),
    "audit": ("egactl.commands.audit", "The log of every change"),
    "api": ("egactl.commands.api", "Make an authenticated API request (for scripting)"),
    "plugins": ("egactl.commands.plugins", "Installed service plugins"),
    "completion": ("egactl.commands.completion", "Print a shell completion script"),
    "serve": ("egactl.commands.serve", "Run the reference backend over HTTP"),
}

GLOBAL_FLAGS = frozenset({"--debug", "--no-color"})
GLOBAL_VALUED = frozenset({"--profile", "-o", "--output", "--query"})


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options to the front so any subcommand position works."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if arg in GLOBAL_FLAGS:
            front.append(arg)
        elif name in GLOBAL_VALUED and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_VALUED and i + 1 < len(args):
            front += [arg, args[i + 1]]
            i += 1
        elif arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _passes_through(exc: BaseException) -> bool:
    """typer's own signalling exceptions (usage errors, Exit, Abort) keep their meaning.

    typer vendors click (``typer._click``); matching by module keeps us off its
    private names.
    """
    return type(exc).__module__.split(".")[0] in ("typer", "click")


class RootGroup(TyperGroup):
    """Lazy subcommands, global options anywhere, and the one error handler."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _install_lean_coercion()
        return super().parse_args(ctx, hoist_global_options(list(args)))

    def list_commands(self, ctx: Any) -> list[str]:
        from egactl.discovery import found

        return list(CORE_GROUPS) + [n for n in found() if n not in CORE_GROUPS]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name in CORE_GROUPS:
            import importlib

            module = importlib.import_module(CORE_GROUPS[name][0])
            return _to_command(module.app, name)
        from egactl.discovery import PluginError, found, import_path

        f = found().get(name)
        if f is None:
            return None
        try:
            plugin = f.load()
            app = import_path(plugin.commands)
        except PluginError as exc:
            raise EgactlError(str(exc), hint="reinstall or remove the plugin (`egactl plugins list`)") from None
        except Exception as exc:
            raise EgactlError(f"plugin {name!r} could not be loaded ({type(exc).__name__}: {exc})",
                              hint="reinstall or remove the plugin (`egactl plugins list`)") from None
        return _to_command(app, name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        from egactl.discovery import found

        with formatter.section("Core commands"):
            formatter.write_dl([(n, h) for n, (_, h) in CORE_GROUPS.items()])
        services = [(n, f.help() or "(no description)") for n, f in found().items() if n not in CORE_GROUPS]
        if services:
            with formatter.section("Service commands"):
                formatter.write_dl(services)

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        """Complete top-level names from what we already know, importing no plugin
        (a broken plugin must not break completion either)."""
        if incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        from typer._click.shell_completion import CompletionItem

        from egactl.discovery import found

        helps = {n: h for n, (_, h) in CORE_GROUPS.items()}
        helps.update({n: f.help() for n, f in found().items() if n not in helps})
        return [CompletionItem(n, help=h) for n, h in helps.items() if n.startswith(incomplete)]

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EgactlError as exc:
            _report(ctx, exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except Exception as exc:
            if _passes_through(exc):
                raise
            # The last line of defence: one line, never a traceback (unless --debug).
            if getattr(ctx.obj, "debug", False):
                import traceback

                traceback.print_exc()
            _report(ctx, EgactlError(f"unexpected error: {type(exc).__name__}: {exc}",
                                     hint="run again with --debug for details"))
            raise typer.Exit(EXIT_FAILURE) from None
        finally:
            if ctx.obj is not None and hasattr(ctx.obj, "close"):
                ctx.obj.close()


def _to_command(app: Any, name: str) -> Any:
    import typer.main

    cmd = typer.main.get_command(app)
    cmd.name = name
    # typer adds --install-completion/--show-completion to every app that does not
    # opt out; `egactl completion SHELL` is the one way, so plugins need not remember.
    cmd.params = [p for p in cmd.params if p.name not in ("install_completion", "show_completion")]
    return cmd


# -- lean value coercion -------------------------------------------------------------
#
# typer (0.2x) turns every parameter value -- even an unset one -- into its Python
# type through a pydantic TypeAdapter, so the first parameter of any command
# imports pydantic (~100 ms, more than all the rest of `egactl ... list`). For the
# values that need no judgement -- a str given as a str, a plain in-range number, a
# valid choice, a list of those, nothing at all -- the result is known in advance
# and is given here (for choices, by typer's own matching function); anything else
# (paths, custom parsers, bad or out-of-range input) goes to typer's own coercion,
# so values and error messages stay typer's.

_UNSURE = object()
_NUMERALS = {int: re.compile(r"[+-]?[0-9]{1,18}"), float: re.compile(r"[+-]?[0-9]{1,15}(?:\.[0-9]{1,15})?")}


class _LeanCoercion:
    """Stands in for a typer parameter's runtime coercion; defers to typer's own when unsure."""

    __slots__ = ("descriptor", "_full")

    def __init__(self, descriptor: Any):
        self.descriptor = descriptor
        self._full: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = param.multiple or param.nargs == -1
        if value is None:
            return () if many else None
        result = _lean_value(self.descriptor, value, many, ctx)
        if result is _UNSURE:
            if self._full is None:
                from typer._coercion import build_runtime_param

                self._full = build_runtime_param(self.descriptor)
            result = self._full.coerce(value, param=param, ctx=ctx)
        _check_int_range(result, param)
        return result


INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _check_int_range(result: Any, param: Any) -> None:
    """No API integer (ids, counts) is wider than 64 bits: a number that is refuses at
    once, as invalid input, instead of reaching the backend."""
    for number in result if isinstance(result, (list, tuple)) else (result,):
        if type(number) is int and not INT_MIN <= number <= INT_MAX:
            from egactl.errors import InvalidInput

            label = (param.metavar or param.name or "value") if param.param_type_name == "argument" else param.opts[0]
            shown = str(number) if len(str(number)) <= 40 else str(number)[:37] + "..."
            raise InvalidInput(f"{label} {shown} is out of range", hint=f"give a whole number up to {INT_MAX}")


def _lean_value(descriptor: Any, value: Any, many: bool, ctx: Any) -> Any:
    from typing import get_args, get_origin

    info, annotation = descriptor.parameter_info, descriptor.annotation
    if getattr(info, "parser", None) is not None or descriptor.file_annotation is not None:
        return _UNSURE
    if not many:
        return _lean_scalar(annotation, info, value, ctx)
    if get_origin(annotation) is not list or not isinstance(value, (list, tuple)):
        return _UNSURE
    (item_type,) = get_args(annotation) or (_UNSURE,)
    items = [_lean_scalar(item_type, info, v, ctx) for v in value]
    return _UNSURE if any(i is _UNSURE for i in items) else items


def _lean_scalar(annotation: Any, info: Any, value: Any, ctx: Any) -> Any:
    if annotation is str:
        return value if type(value) is str else _UNSURE
    if annotation is int or annotation is float:
        if type(value) is annotation:
            number = value
        elif type(value) is str and _NUMERALS[annotation].fullmatch(value):
            number = annotation(value)
        elif annotation is float and type(value) is int:
            number = float(value)
        else:
            return _UNSURE
        low, high = getattr(info, "min", None), getattr(info, "max", None)
        if (low is not None and number < low) or (high is not None and number > high):
            return _UNSURE  # typer clamps or explains
        return number
    try:  # Enum and Literal choices: typer's adapter is exactly this function, wrapped
        from typer._param_types import choice_coercion_annotation, coerce_cli_choice

        choice = choice_coercion_annotation(annotation, info)
        if choice is not None:
            return coerce_cli_choice(value, choices=choice[0], case_sensitive=choice[1], ctx=ctx)
    except Exception:  # not a valid choice (typer words the error), or another typer
        pass
    return _UNSURE


def _install_lean_coercion() -> None:
    """Make typer's parameters (all of them, help options included) coerce leanly first."""
    try:
        from typer.core import _TyperParameter
    except ImportError:  # a typer without runtime coercion: nothing to do
        return
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if original is None or getattr(original, "egactl_lean", False):
        return

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            self._runtime_param = _LeanCoercion(self.type_descriptor)
        return self._runtime_param

    get_runtime_param.egactl_lean = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param


def _report(ctx: Any, exc: EgactlError) -> None:
    obj = ctx.obj
    if getattr(obj, "fmt", None) in ("json", "jsonl"):
        import json

        print(json.dumps(exc.as_json(), ensure_ascii=False), file=sys.stderr)
    else:
        print(f"error: {exc.line()}", file=sys.stderr)


def _version(value: bool) -> None:
    if value:
        print(f"egactl {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    cls=RootGroup,
    name="egactl",
    rich_markup_mode=None,  # plain help at the root: no rich import, no plugin import
    no_args_is_help=True,
    add_completion=False,  # `egactl completion SHELL` instead
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version, help="Show the version and exit.")] = False,
    profile: Annotated[Optional[str], typer.Option("--profile", metavar="NAME", help="Profile to use (env EGACTL_PROFILE).")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="FORMAT",
                                                  help=f"Output format: {', '.join(OUTPUT_FORMATS)} (env EGACTL_OUTPUT).")] = None,
    query: Annotated[Optional[str], typer.Option("--query", metavar="JMESPATH", help="Filter the output with a JMESPath expression.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show HTTP exchanges on stderr (credentials redacted).")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also NO_COLOR=1).")] = False,
) -> None:
    """egactl: administer e-GA's shared ICT services from the command line.

    Global options may be given anywhere on the line. Run `egactl COMMAND --help`
    for a command's own options; docs/reference.md lists them all.
    """
    from egactl.context import Context, activate

    if output is not None and output not in OUTPUT_FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(OUTPUT_FORMATS)}", param_hint="'-o' / '--output'")
    if not isinstance(ctx.obj, Context):
        ctx.obj = Context()
    ctx.obj.configure(profile=profile, output=output, query=query, debug=debug, no_color=no_color)
    activate(ctx.obj)
    if query is not None:
        # Judged before the command runs, so a bad expression never follows a change made.
        from egactl.output import compile_query

        compile_query(query)


def command() -> Any:
    """The root as a click-style command object (what tests, docs and completion use)."""
    import typer.main

    return typer.main.get_command(app)


# Optional modules that egactl's dependencies probe for when they are imported, and
# that egactl never uses. Marking them absent (None in sys.modules: import raises
# ImportError, which both probes expect) spares every command their import:
#   httpx._main  httpx's own command-line tool; pulls in click, rich and pygments (~90 ms)
#   trio         httpcore's second async backend; egactl's client is synchronous and the
#                in-process backend runs on asyncio (~110 ms with attrs, when installed)
UNUSED_OPTIONAL_MODULES = ("httpx._main", "trio")


def main(argv: list[str] | None = None) -> None:
    import os

    if "_EGACTL_COMPLETE" in os.environ:  # a shell asking for completions
        from egactl.commands.completion import register_shells

        register_shells()
    absent = [name for name in UNUSED_OPTIONAL_MODULES if name not in sys.modules]
    sys.modules.update(dict.fromkeys(absent))
    try:
        command()(args=argv if argv is not None else sys.argv[1:], prog_name="egactl")
    finally:
        for name in absent:  # only this command goes without them (matters when embedded)
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
