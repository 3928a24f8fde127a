"""The one exception hierarchy of egactl.

Commands and the HTTP client raise these; the root command catches them in one
place (`egactl.cli`), prints one line (or a JSON object with `-o json`) on
stderr and exits with the code in docs/exit-codes.md. Each class carries its exit code
so that the mapping lives here and nowhere else.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_CONFLICT = 5
EXIT_PARTIAL = 6
EXIT_UNREACHABLE = 7
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells expect


class EgactlError(Exception):
    """Base class: a failure with a message fit for one line on stderr."""

    exit_code = EXIT_FAILURE
    kind = "failure"

    def __init__(self, message: str, *, hint: str | None = None, problem: dict[str, Any] | None = None,
                 rows: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problem = problem
        self.rows = rows
        """A bulk file's invalid rows, ``{"line": N, "error": "..."}``: in the JSON error, not as lines of text."""

    def line(self) -> str:
        """The one line a person reads: what went wrong, then what to do."""
        return f"{self.message}; {self.hint}" if self.hint else self.message

    @property
    def documented_kind(self) -> str:
        """The ``error`` value a script reads: always one of docs/exit-codes.md's list.

        A plugin may subclass these errors to say more in its message, but not invent
        an ``error`` value no script knows: the kind is that of the nearest class
        defined here (a ussd gateway timeout is ``unreachable``)."""
        for cls in type(self).__mro__:
            if cls.__module__ == __name__ and "kind" in vars(cls):
                return vars(cls)["kind"]
        return EgactlError.kind

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": self.documented_kind, "message": self.message, "exit_code": self.exit_code}
        if self.hint:
            data["hint"] = self.hint
        if self.problem:
            data["problem"] = self.problem
        if self.rows:
            data["rows"] = self.rows
        return data


class ServerError(EgactlError):
    exit_code = EXIT_FAILURE
    kind = "server_error"


class InvalidInput(EgactlError):
    """Bad flag values, bad CSV rows, invalid numbers: nothing was sent."""

    exit_code = EXIT_USAGE
    kind = "invalid_input"


class NotFound(EgactlError):
    exit_code = EXIT_NOT_FOUND
    kind = "not_found"


class AuthError(EgactlError):
    """Not logged in, a rejected token, or a role that may not do this."""

    exit_code = EXIT_AUTH
    kind = "not_authorized"


class Conflict(EgactlError):
    """Already taken, illegal state transition, or a stale ETag."""

    exit_code = EXIT_CONFLICT
    kind = "conflict"


class Interrupted(EgactlError):
    """Ctrl-C in the middle of work that has something to say about it (a bulk job:
    what was sent is recorded, and how to go on)."""

    exit_code = EXIT_INTERRUPTED
    kind = "interrupted"


class PartialFailure(EgactlError):
    """A bulk job finished with some rows failed."""

    exit_code = EXIT_PARTIAL
    kind = "partial_failure"


class Unreachable(EgactlError):
    """The backend did not answer: connection refused, DNS, TLS or timeout."""

    exit_code = EXIT_UNREACHABLE
    kind = "unreachable"


class Busy(Unreachable):
    """The backend answered but stayed busy (its database locked past the busy
    timeout, or load shed): nothing was changed, and trying again is right."""

    kind = "busy"


BUSY_HINT = "nothing was changed; try again in a moment"

_BY_STATUS: dict[int, type[EgactlError]] = {
    400: InvalidInput,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
    412: Conflict,
    422: InvalidInput,
    429: Unreachable,
    503: Busy,
    504: Unreachable,
}


def error_for_status(status: int) -> type[EgactlError]:
    """The exception class for an HTTP status the server answered with."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 400 <= status < 500:
        return InvalidInput
    return ServerError
