"""Start-up shortcuts: optional modules that egactl's dependencies probe for and egactl never uses.

Written against httpx 0.27/0.28 and httpcore 1.x. Both probe with a guarded
import when they are imported:

- ``httpx/__init__.py`` does ``try: from ._main import main except ImportError``
  to offer its own command-line tool; ``httpx._main`` imports click, rich and
  pygments (~90 ms);
- httpcore's async backends look for ``trio`` (with attrs, ~110 ms when it is
  installed); egactl's client is synchronous and the in-process backend runs
  on asyncio.

A ``None`` entry in ``sys.modules`` makes ``import name`` raise ImportError, which
both probes expect, so marking the names absent spares every command their
import. The marks are taken away again when the command ends (it matters when
egactl is embedded, or in tests, where something else may want trio).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

UNUSED_OPTIONAL_MODULES = ("httpx._main", "trio")


@contextmanager
def unused_modules_absent(names: tuple[str, ...] = UNUSED_OPTIONAL_MODULES) -> Iterator[list[str]]:
    """Within the block, importing any of ``names`` not yet imported raises ImportError.

    Names already imported are left alone. Yields the names it marked; afterwards
    removes exactly those marks that are still in place.
    """
    absent = [name for name in names if name not in sys.modules]
    sys.modules.update(dict.fromkeys(absent))
    try:
        yield absent
    finally:
        for name in absent:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
