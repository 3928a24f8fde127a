"""egactl config: profiles and settings."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from egactl import config, context
from egactl.errors import InvalidInput, NotFound
from egactl.output import Column

app = typer.Typer(help="Profiles and settings (flag > environment > profile > default).", no_args_is_help=True, add_completion=False)

KeyArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(config.KEYS)}.")]
ProfileOpt = Annotated[Optional[str], typer.Option("--profile", "-p", help="Profile to change (default: the current one).")]


def _key(name: str) -> config.Key:
    key = config.KEYS.get(name.replace("-", "_"))
    if key is None:
        raise InvalidInput(f"unknown setting {name!r}", hint=f"settings are: {', '.join(config.KEYS)}")
    return key


def _target_profile(profile: str | None) -> str:
    """-p NAME, else the global --profile (hoisted to the root, so it never reaches
    this command's own option), else EGACTL_PROFILE, else the current profile."""
    if profile:
        return profile
    if flag := context.get().profile_flag:
        return flag
    data = config.load_file()
    import os

    return os.environ.get("EGACTL_PROFILE") or data.get("current_profile") or config.SANDBOX


@app.command("list")
def list_():
    """Every setting in force, with where its value comes from.

    -o wide adds each setting's environment variable and what it is for.

    Examples:

      egactl config list

      egactl --profile prod config list -o json
    """
    ctx = context.get()
    s = ctx.settings
    rows = [{"key": "profile", "value": s.profile, "source": s.sources["profile"], "env": "EGACTL_PROFILE",
             "help": "The profile in use (--profile, then EGACTL_PROFILE, then `egactl config use`)"}]
    rows += [{"key": k, "value": s.values[k], "source": s.sources[k], "env": key.env, "help": key.help}
             for k, key in config.KEYS.items()]
    ctx.render(rows, [Column("key"), Column("value"), Column("source"), Column("env", "ENV", wide=True),
                      Column("help", "DESCRIPTION", wide=True)])


@app.command()
def get(key: KeyArg):
    """Print one setting's value in force.

    Examples:

      egactl config get api_url

      egactl --profile prod config get institution
    """
    ctx = context.get()
    value = ctx.settings.values[_key(key).name]
    if ctx.fmt in ("json", "jsonl"):
        ctx.render(value)
    else:
        ctx.io.out.write(("" if value is None else str(value)) + "\n")


@app.command("set")
def set_(key: KeyArg, value: Annotated[str, typer.Argument(help="The new value.")], profile: ProfileOpt = None):
    """Set a value in a profile (creating the profile if needed).

    Examples:

      egactl config set institution RITA

      egactl config set api_url https://api.ega.go.tz --profile prod

      egactl config set output json -p ci
    """
    ctx = context.get()
    k = _key(key)
    parsed = k.parse(value)
    name = _target_profile(profile)
    data = config.load_file()
    data.setdefault("profiles", {}).setdefault(name, {})[k.name] = parsed
    config.save_file(data)
    ctx.success(f"Set {k.name} = {parsed} in profile {name}")


@app.command()
def unset(key: KeyArg, profile: ProfileOpt = None):
    """Remove a value from a profile (the default applies again).

    Examples:

      egactl config unset institution

      egactl config unset ca_bundle --profile prod
    """
    ctx = context.get()
    k = _key(key)
    name = _target_profile(profile)
    data = config.load_file()
    section = data.get("profiles", {}).get(name, {})
    if k.name not in section:
        raise NotFound(f"{k.name} is not set in profile {name}")
    del section[k.name]
    config.save_file(data)
    ctx.success(f"Unset {k.name} in profile {name}")


@app.command()
def profiles():
    """List the profiles; the current one is marked.

    -o wide adds each profile's default institution and output format.

    Examples:

      egactl config profiles

      egactl config profiles -o json --query "[?current].name"
    """
    ctx = context.get()
    data = config.load_file()
    # The name only: a current profile that no longer exists must not stop the listing
    # that helps to repair it.
    current = _target_profile(None)
    names = sorted(set(data.get("profiles", {})) | {config.SANDBOX})
    def setting(name: str, key: str) -> object:
        return data.get("profiles", {}).get(name, {}).get(key, config.DEFAULTS[key])

    rows = [{"name": n, "current": n == current, "api_url": setting(n, "api_url"),
             "institution": setting(n, "institution"), "output": setting(n, "output")} for n in names]
    ctx.render(rows, [Column("name"), Column("current"), Column("api_url", "API"),
                      Column("institution", wide=True), Column("output", wide=True)])


@app.command()
def use(name: Annotated[str, typer.Argument(help="Profile name.")]):
    """Make a profile the current one.

    Examples:

      egactl config use prod

      egactl config use sandbox
    """
    ctx = context.get()
    data = config.load_file()
    if name != config.SANDBOX and name not in data.get("profiles", {}):
        known = ", ".join(sorted(set(data.get("profiles", {})) | {config.SANDBOX}))
        raise NotFound(f"no profile named {name!r}", hint=f"known profiles: {known}; create one with `egactl config set api_url URL --profile {name}`")
    data["current_profile"] = name
    config.save_file(data)
    ctx.success(f"Now using profile {name}")
