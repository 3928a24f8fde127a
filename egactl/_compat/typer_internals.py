"""typer's private API, used by egactl and nowhere else.

Written against typer 0.29 (which vendors click as ``typer._click`` since 0.26 and
converts parameter values through pydantic since 0.29), and kept working on the
typer versions that pyproject.toml admits (it names those tested). Each function
says which private names it touches; tests/core/test_compat.py checks each against the
installed typer.

- ``install_lean_coercion``: typer 0.29 converts every parameter value -- even an
  unset one -- through a pydantic ``TypeAdapter``, so the first parameter of any
  command imports pydantic (~100 ms, more than all the rest of ``egactl ... list``).
  For values that need no judgement (a str given as a str, a plain in-range number,
  a valid choice, a list of those, nothing at all) the result is known in advance
  and is given here (for choices, by typer's own matching function); anything else
  (paths, custom parsers, bad or out-of-range input) goes to typer's own
  conversion, so values and error messages stay typer's. Touches
  ``typer.core._TyperParameter.get_runtime_param``/``_runtime_param``/
  ``type_descriptor``, ``typer._coercion.build_runtime_param`` and
  ``typer._param_types``. A typer without runtime conversion (before 0.29) needs
  none of it: then it does nothing.
- ``completion_item``: click's ``CompletionItem``, from the vendored click
  (``typer._click``, typer >= 0.26) or from click itself (before).
- ``register_completion_shells`` / ``completion_script``: typer registers its
  bash/zsh/fish completion classes and writes completion scripts only as part of
  the ``--install-completion`` options, which egactl replaces with
  ``egactl completion SHELL``; these call ``typer._completion_classes`` and
  ``typer._completion_shared`` directly.
- ``is_library_exception``: typer's and click's own signalling exceptions (usage
  errors, Exit, Abort) keep their meaning in egactl's error handler; matched by
  module, since with the vendored click their classes live in ``typer._click``.
- ``plain_labels``: typer 0.29's rich help labels each value with a Python type
  (``<bool>`` for a flag, ``<int range> [x>=1]``, ``<list[str]>``) and its usage
  line wraps a required argument in braces (``{LIST}``) and an optional one whose
  metavar is bracketed twice (``[[MESSAGE]]``). egactl's help says ``N``,
  ``a|b|c``, ``REGION``, nothing for a flag, and ``LIST``/``[MESSAGE]``. Done per
  parameter object through its public ``metavar`` and, on typer >= 0.26, by
  standing in for ``display_type_rich``, ``_get_number_range_help_str`` and
  ``_usage_display_name`` on the instance.
- ``current_command_path``: the running command's path (``egactl dr systems
  add``), from the vendored click's context or from click's.
- ``stdout_pipe_closed``: when stdout's reader goes away while typer/click print
  (help, usage), their ``main`` swallows the ``EPIPE``, wraps ``sys.stdout`` in
  click's ``PacifyFlushWrapper`` and exits 1; that wrapper is the only sign left,
  so it is recognised by its class name (from click or the vendored copy).
"""

from __future__ import annotations

import re
from typing import Any

# -- shell completion -----------------------------------------------------------------


def completion_item(value: str, help: str | None = None) -> Any:
    """One completion candidate, of the class typer's completion machinery expects."""
    try:
        from typer._click.shell_completion import CompletionItem  # typer >= 0.26
    except ModuleNotFoundError:
        from click.shell_completion import CompletionItem  # typer < 0.26 uses click itself
    return CompletionItem(value, help=help)


def register_completion_shells() -> None:
    """Register typer's bash/zsh/fish completion classes (what ``--install-completion`` would)."""
    from typer._completion_classes import completion_init

    completion_init()


def completion_script(prog_name: str, complete_var: str, shell: str) -> str:
    """The completion script typer writes for ``shell``; it calls ``complete_var=complete_<shell> prog_name``."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=prog_name, complete_var=complete_var, shell=shell)


def current_command_path() -> str | None:
    """The path of the command now running, if one is."""
    try:
        from typer._click.globals import get_current_context  # typer >= 0.26
    except ImportError:
        from click import get_current_context
    ctx = get_current_context(silent=True)
    return None if ctx is None else ctx.command_path


# -- help labels -------------------------------------------------------------------------


def plain_labels(param: Any) -> None:
    """Label ``param`` in help as a person reads it, not as Python types it (idempotent)."""
    if getattr(param, "egactl_plain", False):
        return
    param.egactl_plain = True
    kind = getattr(param, "param_type_name", None)
    if kind == "option":
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        else:
            param.metavar = value_label(param)
        if hasattr(param, "_get_number_range_help_str"):
            param._get_number_range_help_str = lambda: None
    elif kind == "argument":
        name = (param.metavar or (param.name or "value").upper()).strip("[]{}<>").rstrip(".")
        param.metavar = name
        if hasattr(param, "_usage_display_name"):  # typer >= 0.26
            usage = name if param.required else f"[{name}]"
            param._usage_display_name = lambda: usage + ("..." if param.nargs != 1 else "")
            param.display_type_rich = lambda ctx=None: None
        elif not param.required:  # click's own usage: a given metavar is printed as it is
            param.metavar = f"[{name}]"


def value_label(param: Any) -> str:
    """What an option's value is called in help: its metavar, its choices, N, or its name."""
    import datetime
    import enum
    import pathlib
    from typing import Literal, get_args, get_origin

    if param.metavar:
        return param.metavar.strip("<>")
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and getattr(descriptor, "is_choice", False):
        return "|".join(str(c.value if isinstance(c, enum.Enum) else c) for c in descriptor.choices or ())
    annotation = getattr(descriptor, "annotation", None)
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation) or (str,)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "|".join(str(m.value) for m in annotation)
    if get_origin(annotation) is Literal:
        return "|".join(str(a) for a in get_args(annotation))
    if annotation is None:  # click's own types (typer < 0.26)
        choices = getattr(getattr(param, "type", None), "choices", None)
        if choices:
            return "|".join(str(c) for c in choices)
        annotation = {"integer": int, "float": float, "path": pathlib.Path}.get(getattr(param.type, "name", ""), str)
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUMBER"
    if isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath):
        return "PATH"
    if annotation is datetime.datetime:
        return "TIME"
    longest = max((o for o in param.opts if o.startswith("--")), key=len, default=param.opts[0])
    return longest.lstrip("-").upper()


def stdout_pipe_closed() -> bool:
    """Did typer/click end the program because stdout's reader went away?"""
    import sys

    return type(sys.stdout).__name__ == "PacifyFlushWrapper"


def is_library_exception(exc: BaseException) -> bool:
    """True for typer's and click's own exceptions (their meaning is theirs to keep)."""
    return type(exc).__module__.split(".")[0] in ("typer", "click")


# -- lean value coercion --------------------------------------------------------------

UNSURE = object()  # "typer must decide": returned by lean_value when it cannot
_NUMERALS = {int: re.compile(r"[+-]?[0-9]{1,18}"), float: re.compile(r"[+-]?[0-9]{1,15}(?:\.[0-9]{1,15})?")}


def typer_coercion(descriptor: Any) -> Any:
    """typer's own runtime conversion for a parameter's type descriptor (typer >= 0.29)."""
    from typer._coercion import build_runtime_param

    return build_runtime_param(descriptor)


class LeanCoercion:
    """Stands in for a typer parameter's runtime conversion; defers to typer's own when unsure."""

    __slots__ = ("descriptor", "_full")

    def __init__(self, descriptor: Any):
        self.descriptor = descriptor
        self._full: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = param.multiple or param.nargs == -1
        if value is None:
            return () if many else None
        result = lean_value(self.descriptor, value, many, ctx)
        if result is not UNSURE:
            return result
        if self._full is None:
            self._full = typer_coercion(self.descriptor)
        return self._full.coerce(value, param=param, ctx=ctx)


def lean_value(descriptor: Any, value: Any, many: bool, ctx: Any) -> Any:
    """The converted value when it is known without pydantic, else ``UNSURE``."""
    from typing import get_args, get_origin

    info, annotation = descriptor.parameter_info, descriptor.annotation
    if getattr(info, "parser", None) is not None or descriptor.file_annotation is not None:
        return UNSURE
    if not many:
        return _lean_scalar(annotation, info, value, ctx)
    if get_origin(annotation) is not list or not isinstance(value, (list, tuple)):
        return UNSURE
    (item_type,) = get_args(annotation) or (UNSURE,)
    items = [_lean_scalar(item_type, info, v, ctx) for v in value]
    return UNSURE if any(i is UNSURE for i in items) else items


def _lean_scalar(annotation: Any, info: Any, value: Any, ctx: Any) -> Any:
    if annotation is str:
        return value if type(value) is str else UNSURE
    if annotation is int or annotation is float:
        if type(value) is annotation:
            number = value
        elif type(value) is str and _NUMERALS[annotation].fullmatch(value):
            number = annotation(value)
        elif annotation is float and type(value) is int:
            number = float(value)
        else:
            return UNSURE
        low, high = getattr(info, "min", None), getattr(info, "max", None)
        if (low is not None and number < low) or (high is not None and number > high):
            return UNSURE  # typer clamps or explains
        return number
    try:  # Enum and Literal choices: typer's adapter is exactly this function, wrapped
        from typer._param_types import choice_coercion_annotation, coerce_cli_choice

        choice = choice_coercion_annotation(annotation, info)
        if choice is not None:
            return coerce_cli_choice(value, choices=choice[0], case_sensitive=choice[1], ctx=ctx)
    except Exception:  # not a valid choice (typer words the error), or another typer
        pass
    return UNSURE


def lean_coercion_available() -> bool:
    """Whether this typer has the runtime conversion the lean one stands in for."""
    try:
        from typer.core import _TyperParameter
    except ImportError:
        return False
    return getattr(_TyperParameter, "get_runtime_param", None) is not None


def install_lean_coercion() -> bool:
    """Make typer's parameters (all of them, help options included) convert leanly first.

    Idempotent. Returns whether the lean conversion is in place (False on a typer
    without runtime conversion, which imports no pydantic anyway).
    """
    if not lean_coercion_available():
        return False
    from typer.core import _TyperParameter

    if getattr(_TyperParameter.get_runtime_param, "egactl_lean", False):
        return True

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            self._runtime_param = LeanCoercion(self.type_descriptor)
        return self._runtime_param

    get_runtime_param.egactl_lean = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param
    return True
