"""egactl sandbox: the sandbox's background server (whether it runs; stop it)."""

from __future__ import annotations

import typer

from egactl import context
from egactl.output import Column

app = typer.Typer(help="The sandbox's background server: whether it runs, and stopping it.", no_args_is_help=True,
                  add_completion=False)


@app.callback()
def _group() -> None:
    """The sandbox's background server: whether it runs, and stopping it."""


@app.command("status")
def status():
    """Whether the sandbox's server runs, for this data directory.

    The first sandbox command starts a server that keeps the backend ready for the
    next ones and exits after EGACTL_SANDBOX_IDLE seconds without a command (600 by
    default). Each environment that changes how the backend behaves (an
    EGACTL_SMS_... setting, another egactl) has a server of its own; CURRENT marks
    the one this command's environment uses. Nothing listed: none runs.

    Examples:

      egactl sandbox status

      egactl sandbox status -o json
    """
    ctx = context.get()
    from egactl.sandbox_client import servers

    rows = [{"pid": s["pid"], "state": "running" if s["running"] else "stale (nothing listening)",
             "current": "yes" if s["current"] else "no", "socket": s["socket"]} for s in servers()]
    ctx.render(rows, [Column("pid", "PID"), Column("state"), Column("current"), Column("socket")],
               empty="No sandbox server is running (the next sandbox command starts one).")


@app.command("stop")
def stop():
    """Stop the sandbox's servers of this data directory, and wait until they have exited.

    Nothing is lost: the sandbox's state is its database, and the next sandbox
    command starts a server again. A server also stops by itself after
    EGACTL_SANDBOX_IDLE seconds without a command. Stale sockets and pid files
    (left by a server that was killed) are removed.

    With -o json: {"stopped": [the pids]}.

    Examples:

      egactl sandbox stop

      egactl sandbox stop -o json
    """
    ctx = context.get()
    from egactl.sandbox_client import stop_all

    stopped = stop_all()
    if ctx.fmt != "table":
        ctx.render({"stopped": stopped})
    elif stopped:
        ctx.success(f"stopped {len(stopped)} sandbox server{'s' if len(stopped) > 1 else ''} "
                    f"(pid {', '.join(map(str, stopped))})")
    else:
        ctx.success("no sandbox server was running")
