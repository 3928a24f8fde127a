"""Where egactl keeps its files: config, credentials fallback, sandbox data, job state.

``EGACTL_CONFIG_DIR`` and ``EGACTL_DATA_DIR`` override the per-OS defaults
(XDG on Linux); the tests use them to keep every run in a temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    if override := os.environ.get("EGACTL_CONFIG_DIR"):
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("egactl", appauthor=False))


def data_dir() -> Path:
    if override := os.environ.get("EGACTL_DATA_DIR"):
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("egactl", appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def private_dir(path: Path) -> Path:
    """Make ``path`` (and any missing parent) a directory; every one created is 0700.

    ``Path.mkdir(parents=True, mode=0o700)`` gives the mode to the last
    directory only, and only through the umask: under ``umask 000`` the parents
    it creates are world-writable. Here each missing directory is created on its
    own and set to 0700 whatever the umask. Directories that already exist are
    left as they are (they may be the user's own, e.g. the current directory).
    """
    path = Path(path)
    missing = []
    for d in [path, *path.parents]:
        if d.is_dir():
            break
        missing.append(d)
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue
        os.chmod(d, 0o700)
    return path


def create_private(path: Path, *, append: bool = False, text: bool = True, **kwargs):
    """Open ``path`` for writing as a file only its owner can read (0600, whatever the umask).

    The file is created 0600 before any byte is written; an existing file is
    narrowed to 0600 too, so an old results file does not stay world-readable.
    Missing parent directories are created 0700 (``private_dir``).
    """
    path = Path(path)
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:  # not our file (e.g. a device): leave its mode alone
        pass
    mode = ("a" if append else "w") + ("" if text else "b")
    return os.fdopen(fd, mode, **kwargs)


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner, atomically.

    The file is created 0600 before any byte is written (no window in which
    another user could open it), then renamed over the old one.
    """
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
