"""egactl's one grammar: the verbs a command may be named by, and old spellings kept for a release.

``egactl <service> [<noun>] <verb>``: every resource is handled with ``list``,
``show``, ``create``, ``update`` and ``delete``; a service adds its own verbs
only where they mean something else (``assign``, ``send``, ``suspend`` ...).
:data:`VERBS` is the whole vocabulary, with what each word means; a test walks
the command tree and fails on a leaf command named by any other word, so a
plugin (built-in or third-party) cannot drift.

Renaming keeps scripts working for one release:

- :func:`formerly` keeps a command's old name as a hidden alias that says, on
  stderr, what the command is called now;
- :func:`formerly_group` does the same for a renamed group of commands;
- :func:`old_flags` keeps an option's old spelling (``--status`` for
  ``--state``, ``-s`` for ``--search``) working the same way.

The notices are for people: with ``-o json``/``jsonl`` stderr carries only the
JSON error of a failure, so they are left out there.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

VERBS: dict[str, str] = {
    # every resource
    "list": "list the resources (filters narrow it; newest first where time matters)",
    "show": "show one resource in full",
    "create": "make a new resource (re-running an identical create is `exists`, exit 0)",
    "update": "change some fields of a resource",
    "delete": "remove a resource (asks first; --yes in scripts)",
    "import": "create or update many resources from a CSV file",
    # membership of a group or list
    "add-members": "add members to a group or distribution list",
    "remove-members": "take members out of a group or distribution list",
    # lifecycles
    "reserve": "hold a resource for a while before assigning it",
    "assign": "give a resource to an institution for a service",
    "release": "give a resource back to the free pool",
    "request": "ask for something an administrator approves",
    "approve": "accept a request",
    "reject": "refuse a request",
    "withdraw": "take back one's own request or approval",
    "onboard": "start a site's onboarding",
    "provision": "record a network's or a provider's side as done",
    "activate": "put a provisioned resource into service",
    "suspend": "stop a resource for a while (reversible with resume)",
    "resume": "undo a suspension",
    "offboard": "take a site out of the network for good",
    "undelete": "bring back a deleted resource within its grace period",
    "purge": "erase a deleted resource for good",
    "cancel": "stop what is queued and not yet handed on",
    "start": "begin a timed exercise (a drill)",
    "finish": "end a timed exercise with its outcome",
    "stop": "end a background process (the sandbox's server; it starts again when needed)",
    # actions
    "send": "send a message",
    "bulk": "send one message per row of a CSV file",
    "check": "probe live endpoints and judge them",
    "simulate": "play a session against an application",
    "reconcile": "compare with an authoritative roster and fix the differences",
    "reset-password": "set a new password",
    "revoke": "make a credential unusable",
    "keygen": "make a key pair, the private key kept readable only by its owner",
    "sign": "sign data into an envelope with one's private key",
    "verify": "check an envelope's signature with the signer's public key",
    "encrypt": "encrypt a payload for the holder of a public key",
    "decrypt": "decrypt a payload with one's private key",
    "erase": "remove or pseudonymise a person's personal data everywhere (a data subject's request)",
    "find": "look anything up across every service by what it is",
    # views: a read-only summary, not a resource
    "status": "a summary of the state of things",
    "report": "a summary of one job or of the whole service",
    "history": "the changes made to one resource",
    "available": "what is free to take",
    "batches": "the jobs that sent messages",
    "outbox": "what is waiting to be handed to a gateway",
    "hosting": "the hosting places a system may name",
    "config": "render a device's configuration",
    "profiles": "the configured profiles",
    # settings and sessions
    "get": "read a setting",
    "set": "change a setting",
    "unset": "remove a setting",
    "use": "make a profile the default",
    "login": "store a credential",
    "logout": "forget a credential",
    "migrate": "bring a database's schema up to date",
    "new": "write a new plugin from the template",
}
"""Every word a leaf command may be named by, and what it means."""

TOP_LEVEL_COMMANDS = frozenset({"api", "completion"})
"""Leaf commands directly under ``egactl`` that are named by their subject."""


def formerly(app: Any, *old_names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Keep the old names of a command working, hidden, for one release.

    Put it above the command's own ``@app.command(...)``::

        @formerly(app, "add")
        @app.command("create")
        def create(...): ...

    ``egactl dr systems add ...`` then runs ``create`` after a notice on stderr
    naming the new spelling; the old name is in no help, completion or reference.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        registered = [c for c in app.registered_commands if c.callback is fn]
        if not registered:
            raise TypeError(f"@formerly must be placed above @app.command for {fn.__name__}")
        info = registered[0]
        new = info.name or fn.__name__.rstrip("_").replace("_", "-")
        for old in old_names:
            app.command(old, hidden=True, help=f"Old name of `{new}`.")(_announcing(fn, old, new))
        return fn

    return decorate


def formerly_group(parent: Any, old: str, group: Any) -> None:
    """Keep a renamed group of commands reachable by its old name, hidden, for one release.

    ``formerly_group(app, "drill", drills_app)`` after ``app.add_typer(drills_app, name="drills")``.
    """
    new = group.info.name or getattr(group, "name", None) or "?"

    def announce() -> None:
        _notice(old, new, group=True)

    parent.add_typer(group, name=old, hidden=True, callback=announce)


def old_flags(renamed: dict[str, str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Keep the old spellings of some options of a command working for one release.

    ``@old_flags({"--status": "--state", "-s": "--search"})`` on a command
    function (above or below ``@app.command``): the old spelling is replaced by
    the new one before the command line is parsed, with a notice on stderr. The
    command's help shows only the new spelling.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.egactl_old_flags = dict(renamed)  # type: ignore[attr-defined]
        return fn

    return decorate


def rewrite_old_flags(args: list[str], renamed: dict[str, str], command_path: str) -> list[str]:
    """``args`` with each old option spelling replaced by its new one (up to ``--``)."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        name, eq, value = arg.partition("=")
        if arg in renamed:
            _flag_notice(command_path, arg, renamed[arg])
            out.append(renamed[arg])
        elif eq and name.startswith("--") and name in renamed:
            _flag_notice(command_path, name, renamed[name])
            out.append(f"{renamed[name]}={value}")
        elif not arg.startswith("--") and arg[:2] in renamed and len(arg) > 2:  # -sVALUE
            _flag_notice(command_path, arg[:2], renamed[arg[:2]])
            out += [renamed[arg[:2]], arg[2:]]
        else:
            out.append(arg)
    return out


def _announcing(fn: Callable[..., Any], old: str, new: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run_under_old_name(*args: Any, **kwargs: Any) -> Any:
        _notice(old, new)
        return fn(*args, **kwargs)

    return run_under_old_name


def _notice(old: str, new: str, *, group: bool = False) -> None:
    from egactl._compat.typer_internals import current_command_path

    path = current_command_path() or old
    parent = path.rsplit(" ", 1)[0] if path.endswith(" " + old) else path
    if group:  # the path ends at the group's old name
        parent = path[: -len(old)].rstrip()
    _warn(f"`{parent} {old}` is now `{parent} {new}`; the old name will be removed in the next release")


def _flag_notice(command_path: str, old: str, new: str) -> None:
    _warn(f"`{command_path} {old}` is now `{new}`; the old spelling will be removed in the next release")


def _warn(message: str) -> None:
    from egactl import context

    try:
        ctx = context.get()
    except LookupError:
        ctx = None
    if ctx is not None and ctx.fmt in ("json", "jsonl"):
        return  # stderr holds only the JSON of a failure
    if ctx is not None:
        ctx.io.warn(message)
    else:
        import sys

        print(f"warning: {message}", file=sys.stderr)
