"""egactl completion: shell completion scripts."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl import context

app = typer.Typer(help="Print a shell completion script.")

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": 'eval "$(egactl completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(egactl completion zsh)"    # in ~/.zshrc',
    "fish": "egactl completion fish > ~/.config/fish/completions/egactl.fish",
}


def script(shell: str) -> str:
    """The completion script; it calls back into egactl, so it never goes stale per command."""
    # typer's generator (it vendors click's): the script calls `_EGACTL_COMPLETE=complete_<shell> egactl`.
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="egactl", complete_var="_EGACTL_COMPLETE", shell=shell)


@app.callback(invoke_without_command=True)
def completion(shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")]):
    """Print the completion script for a shell.

    bash: eval "$(egactl completion bash)" in ~/.bashrc;
    zsh: eval "$(egactl completion zsh)" in ~/.zshrc;
    fish: egactl completion fish > ~/.config/fish/completions/egactl.fish.
    """
    if shell not in SHELLS:
        raise typer.BadParameter(f"must be one of {', '.join(SHELLS)}", param_hint="SHELL")
    ctx = context.get()
    ctx.io.out.write(script(shell))
    if not script(shell).endswith("\n"):
        ctx.io.out.write("\n")
