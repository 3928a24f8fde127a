"""The command context: what every command needs, built once, lazily.

Like the GitHub CLI's Factory: a command asks for ``ctx.api()``,
``ctx.settings``, ``ctx.io`` and ``ctx.render(...)`` and never builds its own
client or decides for itself whether stdout is a terminal. Tests build a
``Context`` with their own transport (the real backend, in-process) and pass it
as the root command's ``obj``.
"""

from __future__ import annotations

import contextvars
from functools import cached_property
from typing import Any, Callable

from egactl import config
from egactl.errors import AuthError, InvalidInput
from egactl.output import Column, IOStreams, render


class Context:
    def __init__(self, *, io: IOStreams | None = None, transport: Any = None, token: str | None = None,
                 env: dict[str, str] | None = None, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], Any] | None = None):
        self._io = io
        self._clock = clock
        self._transport = transport
        self._token = token
        self._env = env
        self._sleep = sleep
        self._api = None
        self._sandbox_noticed = False
        self.profile_flag: str | None = None
        self.output_flag: str | None = None
        self.query: str | None = None
        self.debug = False
        self.no_color = False
        self.all_institutions = False

    def configure(self, *, profile: str | None, output: str | None, query: str | None, debug: bool, no_color: bool,
                  all_institutions: bool = False) -> None:
        self.profile_flag, self.output_flag, self.query = profile, output, query
        self.debug, self.no_color, self.all_institutions = debug, no_color, all_institutions
        if self._io is not None and no_color:
            self._io.no_color = True

    @cached_property
    def io(self) -> IOStreams:
        return self._io or IOStreams(no_color=self.no_color)

    @cached_property
    def settings(self) -> config.Settings:
        import os

        return config.resolve(profile_flag=self.profile_flag, output_flag=self.output_flag,
                              env=self._env if self._env is not None else dict(os.environ))

    @property
    def fmt(self) -> str:
        """The output format; ``-o wide`` is a ``table`` (see :attr:`wide`)."""
        fmt = self._format()
        return "table" if fmt == "wide" else fmt

    @property
    def wide(self) -> bool:
        """``-o wide``: tables show every column (also those marked ``wide``) and cut nothing."""
        return self._format() == "wide"

    def _format(self) -> str:
        if self.output_flag:
            return self.output_flag
        try:
            return self.settings.output
        except InvalidInput:
            return "table"

    def sleep(self, seconds: float) -> None:
        """Wait, by the command's clock (tests pass a sleep that returns at once)."""
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            import time

            time.sleep(seconds)

    def now(self) -> Any:
        """The command's clock (an aware UTC datetime): the one a command reads "now" from,
        so that tests can set it; never ``datetime.now()`` in a command."""
        if self._clock is not None:
            return self._clock()
        import datetime as dt

        return dt.datetime.now(dt.timezone.utc)

    # -- the API ---------------------------------------------------------------

    def api(self):
        if self._api is None:
            self._api = self._make_api()
        return self._api

    def _make_api(self):
        from egactl import credentials
        from egactl.api_client import ApiClient

        s = self.settings
        transport, token, base_url = self._transport, self._token, s.api_url
        on_mutation = None
        if transport is not None:
            base_url = base_url if base_url != config.SANDBOX else "http://sandbox"
        elif s.is_sandbox:
            from egactl.sandbox import open_sandbox

            transport, token = open_sandbox(s.profile, self.warn)
            base_url = "http://sandbox"
            on_mutation = self._sandbox_notice
        else:
            found = credentials.get(s.profile)
            if found is None:
                raise AuthError(f"not logged in to profile {s.profile!r} ({s.api_url})",
                                hint="run `egactl auth login` or set EGACTL_TOKEN")
            token = found.value
        verify: bool | str = s.ca_bundle or True
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        return ApiClient(base_url, token=token, transport=transport, verify=verify,
                         connect_timeout=s.connect_timeout, read_timeout=s.read_timeout, retries=s.retries,
                         debug=self.io.err if self.debug else None, on_mutation=on_mutation,
                         url_source=s.sources.get("api_url"), **kwargs)

    def _sandbox_notice(self) -> None:
        if not self._sandbox_noticed:
            self._sandbox_noticed = True
            from egactl.sandbox import database_path

            self.notice(f"sandbox: nothing leaves this machine (state in {database_path()})")

    def close(self) -> None:
        # A transport handed in from outside (tests) belongs to its owner.
        if self._api is not None and self._transport is None:
            self._api.close()
        self._api = None

    # -- output and interaction --------------------------------------------------

    def render(self, data: Any, cols: list[Column] | None = None, *, title: str | None = None,
               empty: str | None = None) -> None:
        render(self.io, data, fmt=self.fmt, query=self.query, cols=cols, title=title, empty_message=empty,
               wide=self.wide)

    def institution(self, flag: str | None, *, required: bool = True) -> str | None:
        """--institution, else the profile's default institution (unless --all-institutions).

        The -i/--institution option applies this rule itself as it is parsed
        (``egactl.options``); this is for commands that take the code otherwise."""
        value = flag or (None if self.all_institutions else self.settings.institution)
        if value:
            from egactl.options import institution_code

            return institution_code(value, "--institution" if flag else
                                    "the profile's institution (`egactl config get institution`)")
        if required:
            raise InvalidInput("no institution given", hint="pass --institution CODE or set one with `egactl config set institution CODE`")
        return None

    def confirm(self, question: str, *, yes: bool, flag: str = "--yes") -> None:
        """Ask before destroying; in a script, refuse unless ``--yes`` was given."""
        if yes:
            return
        if not self.io.interactive:
            raise InvalidInput(f"{question.rstrip('?')}: needs confirmation", hint=f"pass {flag} to proceed without a prompt")
        import typer

        if not typer.confirm(question, default=False, err=True):
            raise InvalidInput("cancelled; nothing was changed")

    def notice(self, message: str) -> None:
        """A remark for people on stderr ("showing RITA only ..."); none with json/jsonl,
        whose stderr carries only the JSON of a failure."""
        if self.fmt not in ("json", "jsonl"):
            self.io.status(message)

    def warn(self, message: str) -> None:
        """A warning for people on stderr; none with json/jsonl (see :meth:`notice`)."""
        if self.fmt not in ("json", "jsonl"):
            self.io.warn(message)

    def success(self, message: str) -> None:
        """A status line for people; silent for machine formats so scripts see only data.

        After a create the backend answered "exists" (the object was already there,
        exactly as asked), the line says that instead: nothing was changed."""
        if self._api is not None and getattr(self._api, "last_outcome", None) == "exists":
            self._api.last_outcome = None
            message = "exists: already there exactly as asked; nothing changed"
        if self.fmt == "table":
            self.io.status(("✓ " if self.io.err_tty else "") + message)


_current: contextvars.ContextVar[Context] = contextvars.ContextVar("egactl_context")


def activate(ctx: Context) -> None:
    """Called by the root command: this is the context of the command now running."""
    _current.set(ctx)


def get() -> Context:
    """The current command's context (the root command's ``obj``)."""
    return _current.get()
