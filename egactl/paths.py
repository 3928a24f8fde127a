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


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner, atomically.

    The file is created 0600 before any byte is written (no window in which
    another user could open it), then renamed over the old one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
