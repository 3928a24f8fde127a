"""The bulk wire contract, declared once for every import (the core's and every plugin's).

The command side (``egactl.bulk.run``) reads a CSV file and sends it in chunks; each
chunk is ``{"items": [...]}``, every item carrying the CSV ``line`` it came from, and
the answer is ``{"results": [...]}``, one per item in order: its ``line``, a
``status`` (what happened), the ``id`` of what was made and an ``error`` line.
"""

from __future__ import annotations

from typing import Any

BULK_MAX_ITEMS = 1000
"""The most rows one bulk chunk may carry (the command side sends fewer)."""


def bulk_request(item: Any, *, name: str, max_items: int = BULK_MAX_ITEMS) -> Any:
    """The request model of a bulk route: ``{"items": [{"line": N, ...item's fields}]}``.

    ``item`` is the pydantic model of one row (the same one the single-create route
    takes); each item gains ``line``, the CSV line it came from, so that every result
    names its line. ``name`` is the model's name in the OpenAPI contract. Subclass the
    result to add fields of your own.
    """
    from pydantic import Field, create_model

    row = create_model(f"{name}Item", __base__=item, line=(int, Field(description="The CSV line of this row")))
    return create_model(name, items=(list[row], Field(max_length=max_items)))


def bulk_response(statuses: tuple[str, ...], *, name: str) -> Any:
    """The response model of a bulk route: ``{"results": [{"line", "status", "id", "error"}]}``,
    one result per item, in the items' order; ``status`` is one of ``statuses``
    (e.g. ``("created", "exists", "failed")``)."""
    from typing import Literal, Optional

    from pydantic import create_model

    result = create_model(f"{name}Result", line=(int, ...), status=(Literal[statuses], ...),  # type: ignore[valid-type]
                          id=(Optional[str], None), error=(Optional[str], None))
    return create_model(name, results=(list[result], ...))
