"""The root command: global options, lazy core groups and plugins, one error handler.

Startup cost is a feature: the root is a plain click group whose subcommands
are imported only when invoked (click's "lazy group" pattern). ``--help`` reads
the plugins' one-line help without importing them (see ``egactl.discovery``).

Global options may appear anywhere on the command line, as with kubectl:
``egactl -o json institutions list`` and ``egactl institutions list -o json``
mean the same; ``--`` ends option hoisting.
"""

from __future__ import annotations

import functools
import sys
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from egactl import __version__
from egactl._compat.startup import unused_modules_absent
from egactl._compat.typer_internals import (completion_item, install_lean_coercion, is_library_exception,
                                            stdout_pipe_closed)
from egactl.completion_values import complete_output, complete_profiles
from egactl.config import OUTPUT_FORMATS
from egactl.errors import EXIT_FAILURE, EgactlError, InvalidInput

# name -> (module with a typer app called `app`, one-line help). Listed here so
# that `egactl --help` imports none of them.
CORE_GROUPS: dict[str, tuple[str, str]] = {
    "auth": ("egactl.commands.auth", "Log in, log out, show who you are; manage API tokens (admins)"),
    "config": ("egactl.commands.config", "Profiles and settings"),
    "institutions": ("egactl.commands.institutions", "The directory of public institutions"),
    "audit": ("egactl.commands.audit", "The log of every change"),
    "find": ("egactl.commands.find", "Find anything by what it is: a number, an address, a name, a code"),
    "privacy": ("egactl.commands.privacy", "A data subject's report and erasure; the retention of personal data"),
    "api": ("egactl.commands.api", "Make an authenticated API request (for scripting)"),
    "plugins": ("egactl.commands.plugins", "Installed service plugins"),
    "completion": ("egactl.commands.completion", "Print a shell completion script"),
    "serve": ("egactl.commands.serve", "Run the reference backend over HTTP"),
    "sandbox": ("egactl.commands.sandbox", "The sandbox's background server: status, stop"),
}

GLOBAL_FLAGS = frozenset({"--debug", "--no-color", "--all-institutions"})
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


class RootGroup(TyperGroup):
    """Lazy subcommands, global options anywhere, and the one error handler."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        install_lean_coercion()
        hoisted = hoist_global_options(list(args))
        try:
            return super().parse_args(ctx, list(hoisted))  # the parser consumes its list
        except Exception as exc:  # e.g. `egactl --bogus`, `egactl -o yaml`
            _help_asked(exc)
            _usage_error(ctx, exc, hoisted)
            raise

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
        import inspect
        import sys

        # A plugin's help is written once, as its package's docstring: the first
        # line is what `egactl --help` lists, the whole is `egactl NAME --help`.
        package = sys.modules.get(f.module.split(".")[0])
        return _to_command(app, name, help=inspect.getdoc(package) if package is not None else None)

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
        from egactl.discovery import found

        helps = {n: h for n, (_, h) in CORE_GROUPS.items()}
        helps.update({n: f.help() for n, f in found().items() if n not in helps})
        return [completion_item(n, help=h) for n, h in helps.items() if n.startswith(incomplete)]

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EgactlError as exc:
            _report(ctx, exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            _stdout_closed()
            raise typer.Exit(0) from None
        except Exception as exc:
            if is_library_exception(exc):
                _help_asked(exc)
                _usage_error(ctx, exc, None)  # an unknown option or command, a bad value, a plugin's BadParameter
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


def _to_command(app: Any, name: str, help: str | None = None) -> Any:
    import typer.main

    cmd = typer.main.get_command(app)
    cmd.name = name
    if help:
        cmd.help = help
    # typer adds --install-completion/--show-completion to every app that does not
    # opt out; `egactl completion SHELL` is the one way, so plugins need not remember.
    cmd.params = [p for p in cmd.params if p.name not in ("install_completion", "show_completion")]
    _apply_grammar(cmd)
    _refuse_huge_integers(cmd)
    return cmd


def examples_kept_whole(text: str) -> str:
    """Help text whose example command lines are never re-wrapped to the terminal's width
    (click's ``\\b`` paragraph mark), so an example copies and pastes as one command."""
    import re

    head, sep, tail = text.partition("Examples:")
    if not sep:
        return text
    paragraphs = re.split(r"\n\s*\n", tail)
    kept = ["\b\n" + p if p.strip().startswith("egactl ") and not p.lstrip("\n").startswith("\b") else p
            for p in paragraphs]
    return head + sep + "\n\n".join(kept)


def _completing() -> bool:
    import os

    return "_EGACTL_COMPLETE" in os.environ


def _offer_global_options(cmd: Any) -> None:
    """While a shell asks for completions, a leaf command also knows the global
    options (valid anywhere on the line), so they and their values complete after
    a subcommand too: `egactl sms list -o <TAB>`."""
    have = {o for p in cmd.params for o in getattr(p, "opts", ())}
    cmd.params.extend(p for p in _global_options() if not have.intersection(p.opts))


@functools.cache
def _global_options() -> list[Any]:
    """The root's global options, as parameter objects (what the root itself parses)."""
    import typer.main

    root = typer.main.get_command(app)
    return [p for p in root.params if p.name in ("output", "query", "profile", "debug", "no_color", "all_institutions")]


def _plain_help_option(cmd: Any) -> None:
    """``-h/--help`` is made by the parser on demand; it is labelled like the rest."""
    from egactl._compat.typer_internals import plain_labels

    if getattr(cmd, "egactl_plain_help", False):
        return
    make = cmd.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if option is not None:
            plain_labels(option)
        return option

    cmd.get_help_option = get_help_option
    cmd.egactl_plain_help = True


def _apply_grammar(cmd: Any) -> None:
    """What every command of the tree gets from egactl's grammar, whoever wrote it:
    plain value labels in help, and old option spellings kept for a release
    (``egactl.grammar.old_flags``)."""
    from egactl._compat.typer_internals import plain_labels

    if hasattr(cmd, "rich_markup_mode"):
        cmd.rich_markup_mode = None  # one style from the root down: plain text, as `egactl --help`
    if getattr(cmd, "help", None):
        cmd.help = examples_kept_whole(cmd.help)
    if not hasattr(cmd, "commands") and _completing():
        _offer_global_options(cmd)
    for param in cmd.params:
        plain_labels(param)
    _plain_help_option(cmd)
    for sub in getattr(cmd, "commands", {}).values():
        _apply_grammar(sub)
    renamed = getattr(cmd.callback, "egactl_old_flags", None) or {}
    watches = any("--watch" in getattr(p, "opts", ()) for p in cmd.params)
    if (renamed or watches) and not getattr(cmd, "egactl_args_rewritten", False):
        from egactl.grammar import rewrite_old_flags
        from egactl.watch import default_interval

        parse_args = cmd.parse_args

        def parse_rewritten(ctx: Any, args: list[str]) -> list[str]:
            args = rewrite_old_flags(list(args), renamed, ctx.command_path) if renamed else list(args)
            return parse_args(ctx, default_interval(args) if watches else args)

        cmd.parse_args = parse_rewritten
        cmd.egactl_args_rewritten = True


INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _refuse_huge_integers(cmd: Any) -> None:
    """No API integer (ids, counts) is wider than 64 bits: a command given one refuses
    at once, as invalid input, instead of sending it. Done on every leaf command's
    callback (click's public surface), so it holds whatever typer converted with."""
    for sub in getattr(cmd, "commands", {}).values():
        _refuse_huge_integers(sub)
    callback = cmd.callback
    if callback is None or getattr(callback, "egactl_int_checked", False):
        return
    params = {p.name: p for p in cmd.params}

    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            for number in value if isinstance(value, (list, tuple)) else (value,):
                if type(number) is int and not INT_MIN <= number <= INT_MAX and name in params:
                    _out_of_range(number, params[name])
        return callback(*args, **kwargs)

    checked.egactl_int_checked = True  # type: ignore[attr-defined]
    cmd.callback = checked


def _out_of_range(number: int, param: Any) -> None:
    from egactl.errors import InvalidInput

    label = (param.metavar or param.name or "value") if param.param_type_name == "argument" else param.opts[0]
    shown = str(number) if len(str(number)) <= 40 else str(number)[:37] + "..."
    raise InvalidInput(f"{label} {shown} is out of range", hint=f"give a whole number up to {INT_MAX}")


def _report(ctx: Any, exc: EgactlError) -> None:
    obj = ctx.obj
    if getattr(obj, "fmt", None) in ("json", "jsonl"):
        import json

        print(json.dumps(exc.as_json(), ensure_ascii=False), file=sys.stderr)
    else:
        print(f"error: {exc.line()}", file=sys.stderr)


def _help_asked(exc: BaseException) -> None:
    """A group run without a command (`egactl`, `egactl sms`) shows its help on stdout
    and exits 0, as `gh` and `kubectl` do; click treats it as a usage error (exit 2)."""
    if type(exc).__name__ == "NoArgsIsHelpError" and getattr(exc, "ctx", None) is not None:
        print(exc.ctx.get_help())
        raise typer.Exit(0) from None


def _usage_error(ctx: Any, exc: BaseException, args: list[str] | None) -> None:
    """With JSON output, a usage error found by the parser (typer/click) is one JSON
    object on stderr like every other failure, and exit 2; otherwise it is left to
    the parser, which prints usage text."""
    if not (is_library_exception(exc) and getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message")):
        return
    if _output_format(ctx, args) not in ("json", "jsonl"):
        return
    import json

    where = getattr(getattr(exc, "ctx", None), "command_path", None) or "egactl"
    error = InvalidInput(exc.format_message(), hint=f"see `{where} --help`")
    print(json.dumps(error.as_json(), ensure_ascii=False), file=sys.stderr)
    raise typer.Exit(error.exit_code) from None


def _output_format(ctx: Any, args: list[str] | None) -> str | None:
    """The output format the command line asked for, as far as it was understood."""
    import os

    fmt = getattr(ctx.find_root().obj, "fmt", None)
    if fmt:
        return fmt
    given = ctx.find_root().params.get("output")
    for i, arg in enumerate(args or ()):
        if arg in ("-o", "--output") and i + 1 < len(args):
            given = args[i + 1]
        elif arg.startswith("--output="):
            given = arg.split("=", 1)[1]
        elif arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
            given = arg[2:].lstrip("=")
    return given or os.environ.get("EGACTL_OUTPUT")


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
    profile: Annotated[Optional[str], typer.Option("--profile", metavar="NAME", autocompletion=complete_profiles,
                                                   help="Profile to use (env EGACTL_PROFILE).")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="FORMAT", autocompletion=complete_output,
                                                  help=f"Output format: {', '.join(OUTPUT_FORMATS)} (env EGACTL_OUTPUT).")] = None,
    query: Annotated[Optional[str], typer.Option("--query", metavar="JMESPATH", help="Filter the output with a JMESPath expression.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show HTTP exchanges on stderr (credentials redacted).")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also NO_COLOR=1).")] = False,
    all_institutions: Annotated[bool, typer.Option(
        "--all-institutions", help="Ignore the profile's default institution (every one you may see).")] = False,
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
    ctx.obj.configure(profile=profile, output=output, query=query, debug=debug, no_color=no_color,
                      all_institutions=all_institutions)
    activate(ctx.obj)
    if query is not None:
        # Judged before the command runs, so a bad expression never follows a change made.
        from egactl.output import compile_query

        compile_query(query)


def command() -> Any:
    """The root as a click-style command object (what tests, docs and completion use)."""
    import typer.main

    from egactl._compat.typer_internals import plain_labels

    root = typer.main.get_command(app)
    for param in root.params:
        plain_labels(param)
    _plain_help_option(root)
    return root


def main(argv: list[str] | None = None) -> None:
    import os

    if "_EGACTL_COMPLETE" in os.environ:  # a shell asking for completions
        from egactl.commands.completion import register_shells

        register_shells()
    was_devnull = _stdout_is_devnull()
    try:
        with unused_modules_absent():  # see egactl._compat.startup
            command()(args=argv if argv is not None else sys.argv[1:], prog_name="egactl")
    except BrokenPipeError:  # e.g. `egactl --help | head -1`, outside any command
        _stdout_closed()
        sys.exit(0)
    except SystemExit as exc:
        # typer/click (PacifyFlushWrapper) or rich (Console.on_broken_pipe: stdout
        # pointed at /dev/null) met the closed pipe first and exit 1 for it.
        if exc.code == 1 and (stdout_pipe_closed() or (not was_devnull and _stdout_is_devnull())):
            sys.exit(0)
        raise


def _stdout_is_devnull() -> bool:
    import os

    try:
        out, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):
        return False
    return (out.st_dev, out.st_ino) == (null.st_dev, null.st_ino)


def _stdout_closed() -> None:
    """The reader of stdout went away (`| head`): end quietly, as gh and kubectl do.

    Whatever is still buffered cannot be written; point stdout at /dev/null so
    that the interpreter's final flush does not fail again on the way out.
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
