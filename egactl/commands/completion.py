"""egactl completion: shell completion scripts."""

from __future__ import annotations

from typing import Annotated

import typer

from egactl import context

app = typer.Typer(help="Print a shell completion script.", add_completion=False)

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": 'eval "$(egactl completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(egactl completion zsh)"    # in ~/.zshrc',
    "fish": "egactl completion fish > ~/.config/fish/completions/egactl.fish",
}


COMPLETE_VAR = "_EGACTL_COMPLETE"


def register_shells() -> None:
    """Teach typer's completion machinery our shells.

    typer does this itself only when it adds its own --install-completion
    options, which egactl replaces with `egactl completion SHELL`; so the
    classes are registered here, and only when a shell is asking for
    completions (the environment variable is set), keeping startup cheap.
    """
    from egactl._compat.typer_internals import register_completion_shells

    register_completion_shells()


def script(shell: str) -> str:
    """The completion script; it calls back into egactl, so it never goes stale per command."""
    # typer's generator: the script calls `_EGACTL_COMPLETE=complete_<shell> egactl`.
    from egactl._compat.typer_internals import completion_script

    return completion_script(prog_name="egactl", complete_var=COMPLETE_VAR, shell=shell)


@app.command()
def completion(shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")]):
    """Print the completion script for a shell.

    bash: eval "$(egactl completion bash)" in ~/.bashrc;
    zsh: eval "$(egactl completion zsh)" in ~/.zshrc;
    fish: egactl completion fish > ~/.config/fish/completions/egactl.fish.

    Examples:

      egactl completion bash > ~/.local/share/bash-completion/completions/egactl

      egactl completion fish > ~/.config/fish/completions/egactl.fish
    """
    if shell not in SHELLS:
        raise typer.BadParameter(f"must be one of {', '.join(SHELLS)}", param_hint="SHELL")
    text = script(shell)
    context.get().io.out.write(text if text.endswith("\n") else text + "\n")
