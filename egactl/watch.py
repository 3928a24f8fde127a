"""``--watch [SECONDS]``: follow a view until it settles, for people and for scripts.

In a terminal (table output) the view is redrawn in place every SECONDS, under a
line saying what is watched and when it was last read. Anywhere else (a pipe, a
file, json/csv output) the first reading is printed whole and then one line per
record that changed: a script reading the pipe sees each change once, as it
happens, and nothing when nothing changes.

The watch ends when ``done(data)`` says the view has settled (exit 0, after the
last reading is shown), or with Ctrl-C (exit 130, like any interrupted command).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from egactl.errors import InvalidInput
from egactl.output import Column, render

DEFAULT_SECONDS = 5.0
MIN_SECONDS = 1.0


def default_interval(args: list[str]) -> list[str]:
    """``--watch`` may be given without SECONDS: the parser needs a value, so the default
    is put in when the next word is not a number (up to ``--``)."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        out.append(arg)
        if arg == "--watch":
            following = args[i + 1] if i + 1 < len(args) else None
            if following is None or not _is_number(following):
                out.append(f"{DEFAULT_SECONDS:g}")
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def seconds(value: float | None) -> float | None:
    """The ``--watch`` value: None (not watching), or an interval of at least one second."""
    if value is None:
        return None
    if value != value or value < MIN_SECONDS:  # NaN or too often
        raise InvalidInput(f"--watch: {value:g} is too often", hint=f"give at least {MIN_SECONDS:g} second")
    return float(value)


def watch(ctx: Any, fetch: Callable[[], Any], cols: list[Column] | None, *, every: float,
          done: Callable[[Any], bool] | None = None, key: Callable[[dict], Any] | None = None,
          what: str = "", max_readings: int | None = None) -> Any:
    """Read ``fetch()`` every ``every`` seconds and show it (see the module docstring).

    ``key(record)`` identifies a record across readings (default: its position);
    ``what`` names the view in the terminal's header line. Returns the last reading.
    """
    terminal = ctx.io.out_tty and ctx.fmt == "table"
    previous: dict[Any, Any] | None = None
    readings = 0
    while True:
        data = fetch()
        readings += 1
        if terminal:
            _redraw(ctx, data, cols, what, every)
        else:
            previous = _print_changes(ctx, data, cols, previous, key)
        if (done is not None and done(data)) or (max_readings is not None and readings >= max_readings):
            return data
        ctx.sleep(every)


def _redraw(ctx: Any, data: Any, cols: list[Column] | None, what: str, every: float) -> None:
    from egactl.times import for_people

    out = ctx.io.out
    out.write("\x1b[H\x1b[2J")  # home, clear screen
    out.write(f"Every {every:g}s: {what}    {for_people(ctx.now())}\n\n")
    ctx.render(data, cols)
    out.flush()


def _records(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


def _print_changes(ctx: Any, data: Any, cols: list[Column] | None, previous: dict[Any, Any] | None,
                   key: Callable[[dict], Any] | None) -> dict[Any, Any]:
    records = _records(data)
    current = {(key(r) if key and isinstance(r, dict) else i): r for i, r in enumerate(records)}
    if previous is None:
        ctx.render(data, cols)
    else:
        changed = [r for k, r in current.items() if previous.get(k) != r]
        for record in changed:
            _one_line(ctx, record, cols)
    ctx.io.out.flush()
    return current


def _one_line(ctx: Any, record: Any, cols: list[Column] | None) -> None:
    fmt = ctx.fmt
    if fmt in ("json", "jsonl") or not isinstance(record, dict) or ctx.query:
        from egactl.output import apply_query

        ctx.io.out.write(json.dumps(apply_query(record, ctx.query), ensure_ascii=False, default=str) + "\n")
        return
    shown = [c for c in cols or [] if ctx.wide or not c.wide] or [Column(k) for k in record]
    if fmt in ("csv", "tsv"):
        from egactl.output import _write_delimited

        _write_delimited(ctx.io.out, [record], shown, "," if fmt == "csv" else "\t", header=False)
        return
    ctx.io.out.write("  ".join(c.text(record) for c in shown).rstrip() + "\n")
