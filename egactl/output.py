"""Rendering records: the one place that decides terminal vs pipe.

- ``json``/``jsonl``: the API's objects as they came, after ``--query``.
- ``table``: the command's columns; a rich table in a terminal, plain aligned
  text (tabulate) in a pipe, no colour when ``NO_COLOR`` or ``--no-color``.
- ``csv``/``tsv``: the command's columns, with the field names as header, so a
  script gets stable headers; nested values as compact JSON; a value a
  spreadsheet would run as a formula is neutralised (``spreadsheet_safe``).

An empty result is still valid output: ``[]``, no jsonl lines, a header-only
CSV, a header-only plain table.

A listing of every page (``--all``; ``Listing.streaming``) is printed page by
page as the pages arrive, keeping none: ``json`` as one array written item by
item, ``jsonl``/``csv``/``tsv`` as always, and tables in pages with the widths
of the first page (at a terminal a later, longer value is cut with "…"; in a
pipe, and with ``-o wide``, it is not cut and its line is longer). What is
printed is byte for byte what the whole list would print, but for those
widths. ``--query`` needs the whole list: with it the pages are collected first.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TextIO

from egactl.errors import InvalidInput
from egactl.rules import FORMULA_START


@dataclass(frozen=True)
class Column:
    """A column: the header people see, and the field (dotted path) it shows.

    At a terminal a table fits its width: short columns (codes, states, times,
    ids) keep their whole text, and long ones (names, addresses, reasons) are
    cut with "…", never wrapped letter by letter. ``wide=True``: a column shown
    only with ``-o wide``, which also cuts nothing.
    """

    key: str
    header: str | None = None
    format: Callable[[Any], str] | None = None
    wide: bool = False

    @property
    def title(self) -> str:
        return self.header or self.key.split(".")[-1].replace("_", " ").upper()

    def value(self, record: dict[str, Any]) -> Any:
        value: Any = record
        for part in self.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def text(self, record: dict[str, Any]) -> str:
        """The value as people read it (tables): an RFC 3339 time in East Africa Time."""
        value = self.value(record)
        if self.format is not None:
            return self.format(value)
        if isinstance(value, str) and value[:1].isdigit():
            from egactl.times import RFC3339, for_people

            if RFC3339.fullmatch(value):
                return for_people(value)
        return cell(value)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def columns(*keys: str) -> list[Column]:
    return [Column(k) for k in keys]


@dataclass
class IOStreams:
    """stdout for data, stderr for everything else; TTY-aware, NO_COLOR-aware."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    inp: TextIO = field(default_factory=lambda: sys.stdin)
    no_color: bool = False

    def __post_init__(self) -> None:
        if os.environ.get("NO_COLOR"):
            self.no_color = True

    @property
    def out_tty(self) -> bool:
        return _isatty(self.out)

    @property
    def err_tty(self) -> bool:
        return _isatty(self.err)

    @property
    def interactive(self) -> bool:
        """Prompts are allowed only when a person is at both ends."""
        return _isatty(self.inp) and _isatty(self.out)

    def console(self, stream: str = "out", width: int | None = None):
        from rich.console import Console

        file = self.out if stream == "out" else self.err
        # NO_COLOR / --no-color: no escape codes at all, bold and underline included
        # (rich's own no_color keeps them; without a colour system it writes none).
        extra: dict[str, Any] = {"color_system": None} if self.no_color else {}
        if width is not None:
            extra["width"] = width
        return Console(file=file, no_color=self.no_color, highlight=False, soft_wrap=False,
                       force_terminal=_isatty(file) or None, **extra)

    def status(self, message: str) -> None:
        """A notice for people ("✓ Created RITA"), on stderr, never mixed with data."""
        print(message, file=self.err)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.err)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def compile_query(query: str) -> Any:
    """The --query expression, compiled; an empty or malformed one is invalid input."""
    if not query.strip():
        raise InvalidInput("--query is empty", hint="give a JMESPath expression, e.g. --query 'items[].code', or leave it out")
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(query)
    except JMESPathError as exc:
        raise InvalidInput(f"invalid --query {query!r}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    """The whole of a JMESPath error on one line: what is wrong, and where.

    jmespath's own text spreads over three lines (the message, the expression, a
    caret under the column); the first alone says "Incomplete expression:" and
    nothing more.
    """
    from jmespath.exceptions import ArityError, IncompleteExpressionError, LexerError, ParseError

    if isinstance(exc, ArityError):  # a ParseError without a token: its text is one line already
        return " ".join(str(exc).split())
    if isinstance(exc, IncompleteExpressionError):
        return f"the expression ends too early (at column {exc.lex_position}: something is left open)"
    if isinstance(exc, LexerError):
        return f"unknown character {exc.lexer_value!r} at column {exc.lexer_position}"
    if isinstance(exc, ParseError):
        token = f" {exc.token_value!r}" if getattr(exc, "token_value", None) is not None else ""
        return f"{exc.msg}{token} at column {exc.lex_position}"
    return " ".join(str(exc).split()) or type(exc).__name__


def apply_query(data: Any, query: str | None) -> Any:
    if query is None:
        return data
    from jmespath.exceptions import JMESPathError

    expression = compile_query(query)
    try:
        return expression.search(data)
    except JMESPathError as exc:
        raise InvalidInput(f"invalid --query {query!r}: {_first_line(exc)}") from None


def render(
    io: IOStreams,
    data: Any,
    *,
    fmt: str,
    query: str | None = None,
    cols: list[Column] | None = None,
    title: str | None = None,
    empty_message: str | None = None,
    wide: bool = False,
) -> None:
    """Print records (a list) or one record (a dict) in the chosen format.

    ``wide``: a table (``-o wide``) with every column, cut nowhere. Without it the
    columns marked ``wide`` are left out (of csv and tsv too: their columns are a
    script's contract, and stay as they are).
    """
    queried = query is not None
    if not queried and getattr(data, "streaming", False) and (cols is not None or fmt in ("json", "jsonl")):
        _render_pages(io, data.pages(), fmt=fmt, cols=cols if wide else [c for c in cols or [] if not c.wide],
                      title=title, empty_message=empty_message, wide=wide)
        return
    if queried and isinstance(data, list) and type(data) is not list:
        data = list(data)  # a Listing (every page, if it streams): JMESPath's functions know only plain lists
    data = apply_query(data, query)
    if fmt == "json":
        json.dump(data, io.out, indent=2, ensure_ascii=False, default=str)
        io.out.write("\n")
        return
    if fmt == "jsonl":
        for item in data if isinstance(data, list) else [data]:
            io.out.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
        return
    if not isinstance(data, (list, dict)) or (queried and isinstance(data, list) and data and not isinstance(data[0], dict)):
        # A --query that picked scalars: one value a line, like the AWS CLI's text output.
        for item in data if isinstance(data, list) else [data]:
            io.out.write(cell(item) + "\n")
        return
    single = isinstance(data, dict)
    records = [data] if single else data
    if cols is None or queried:
        cols = _columns_from(records) if records else (cols or [])
    elif not wide:
        cols = [c for c in cols if not c.wide]
    if fmt in ("csv", "tsv"):
        _write_delimited(io.out, records, cols, "," if fmt == "csv" else "\t")
    elif single and not queried:
        _write_record(io, records[0], cols)
    elif not records:
        # Nothing on stdout (a header alone is data only in csv/tsv); people are told.
        io.status(empty_message or "no results")
    else:
        _write_table(io, records, cols, title, wide=wide)
        _say_what_was_left_out(io, data)


def _render_pages(io: IOStreams, pages: Iterable[list[dict]], *, fmt: str, cols: list[Column],
                  title: str | None, empty_message: str | None, wide: bool) -> None:
    """Print a list that arrives page by page, each page as it comes (see the module's docstring)."""
    out = io.out
    if fmt == "json":
        write_json_pages(out, pages)
        return
    if fmt == "jsonl":
        for page in pages:
            for item in page:
                out.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
            out.flush()
        return
    if fmt in ("csv", "tsv"):
        writer = delimited_writer(out, "," if fmt == "csv" else "\t")
        writer.writerow([c.key for c in cols])
        for page in pages:
            for r in page:
                writer.writerow([cell(c.value(r)) for c in cols])
            out.flush()
        return
    table: _PagedTable | None = None
    for page in pages:
        if not page:
            continue
        rows = [[c.text(r) for c in cols] for r in page]
        if table is None:
            table = _PagedTable(io, cols, rows, title, wide=wide)
        table.write(rows)
        out.flush()
    if table is None:
        io.status(empty_message or "no results")


def write_json_pages(out: TextIO, pages: Iterable[list[Any]]) -> None:
    """Write the items of every page as one JSON array, each page as it comes (and flushed
    before the next is asked for): byte for byte what ``json.dump(items, indent=2)`` of
    the whole list writes, and a line after it. Nothing is written before the first item
    (``[]`` when there is none), so a first page that fails leaves stdout empty.

    A page is encoded at once (the array's inside of ``json.dumps(page, indent=2)``), not
    item by item: fewer, larger strings leave the C allocator's heap less fragmented (client
    peak memory of 60k opt-outs 35 MB against 41 MB, bench/list_memory.py)."""
    begun = False
    for page in pages:
        if page:
            text = json.dumps(page, indent=2, ensure_ascii=False, default=str)
            out.write(("[\n" if not begun else ",\n") + text[2:-2])
            begun = True
            del text
        out.flush()
    out.write("\n]\n" if begun else "[]\n")


class _PagedTable:
    """A table printed in pages: the header and the column widths come from the first page."""

    def __init__(self, io: IOStreams, cols: list[Column], first: list[list[str]], title: str | None, *, wide: bool):
        self.io, self.cols, self.title, self.wide = io, cols, title, wide
        self.first = True
        if io.out_tty:
            longest = [max([len(c.title), *(len(row[i]) for row in first)]) for i, c in enumerate(cols)]
            self.widths = longest if wide else _fit(longest, io.console().width - 2 * (len(cols) - 1))
        else:
            # as tabulate's "plain" (the pipe's table of a single page): a column is at least
            # its header and two spaces wide
            self.widths = [max(_plain_width(c.title) + 2, *(_plain_width(row[i]) for row in first))
                           for i, c in enumerate(cols)]

    def write(self, rows: list[list[str]]) -> None:
        if self.io.out_tty:
            from rich.table import Table

            table = Table(title=self.title if self.first else None, box=None, header_style="bold", pad_edge=False,
                          show_header=self.first)
            for c, width in zip(self.cols, self.widths):
                # -o wide cuts nothing: a later, longer value widens its own page
                table.add_column(c.title, no_wrap=True, overflow="ellipsis",
                                 **({"min_width": width} if self.wide else {"width": width}))
            for row in rows:
                table.add_row(*row)
            self.io.console(width=10_000 if self.wide else None).print(table, crop=not self.wide)
        else:
            lines = _plain_lines([c.title for c in self.cols], self.widths) if self.first else []
            for row in rows:
                lines += _plain_lines(row, self.widths)
            self.io.out.write("".join(line + "\n" for line in lines))
        self.first = False


def _plain_width(text: str) -> int:
    """The width a pipe table gives a cell: its longest line, as it shows (wide characters count two)."""
    from rich.cells import cell_len

    return max(cell_len(line) for line in text.strip().split("\n"))


def _plain_lines(cells: list[str], widths: list[int]) -> list[str]:
    """One row of a pipe table as tabulate's "plain" format lays it out: cells stripped and
    left-aligned, two spaces between columns, a multi-line cell over several lines, no
    trailing spaces."""
    from rich.cells import cell_len

    split = [text.strip().split("\n") for text in cells]
    height = max(len(lines) for lines in split)
    out = []
    for k in range(height):
        parts = []
        for lines, width in zip(split, widths):
            text = lines[k] if k < len(lines) else ""
            parts.append(text + " " * max(0, width - cell_len(text)))
        out.append("  ".join(parts).rstrip())
    return out


def _say_what_was_left_out(io: IOStreams, data: Any) -> None:
    """Under a table cut short by --limit: "showing 30 of 1,204; --limit N or --all"."""
    if not getattr(data, "more", False):
        return
    total = getattr(data, "total", None)
    if total is None:
        of = ""
    elif getattr(data, "total_exact", True):
        of = f" of {total:,}"
    else:
        of = f" of more than {total:,}"
    io.status(f"showing {len(data):,}{of}; --limit N or --all")


def _columns_from(records: list[dict[str, Any]]) -> list[Column]:
    keys: dict[str, None] = {}
    for r in records:
        if isinstance(r, dict):
            keys.update(dict.fromkeys(r))
    return [Column(k) for k in keys]


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(text: str) -> str:
    """A CSV/TSV cell that a spreadsheet shows as text instead of running it as a formula.

    As OWASP recommends for CSV injection, a value beginning with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading ``'``. A plain number
    (``-5``, ``+255712345678``, ``-0.25``) is left exact: a spreadsheet reads it
    as a number, never as a formula. JSON output is never changed. Every CSV and
    TSV that egactl writes goes through this (``-o csv``/``tsv``, bulk results files).
    """
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def delimited_writer(out: TextIO, delimiter: str = ","):
    """The one CSV/TSV writer of egactl; every cell goes through ``spreadsheet_safe``.

    ``","``: RFC 4180 CSV (quoted where needed). ``"\t"``: TSV as Unix tools read
    it, one record a line: a tab, newline, carriage return or backslash inside a
    value is written ``\t``, ``\n``, ``\r``, ``\\``, never quoted.
    """
    if delimiter == "\t":
        return _SafeWriter(_TsvWriter(out))
    import csv

    return _SafeWriter(csv.writer(out, delimiter=delimiter, lineterminator="\n"))


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _TsvWriter:
    def __init__(self, out: TextIO):
        self._out = out

    def writerow(self, values: Iterable[str]) -> None:
        self._out.write("\t".join(v.translate(_TSV_ESCAPES) for v in values) + "\n")


class _SafeWriter:
    def __init__(self, writer: Any):
        self._writer = writer

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_safe(v if isinstance(v, str) else cell(v)) for v in values])


def _write_delimited(out: TextIO, records: Iterable[dict], cols: list[Column], delimiter: str, *,
                     header: bool = True) -> None:
    writer = delimited_writer(out, delimiter)
    if header:
        writer.writerow([c.key for c in cols])
    for r in records:
        writer.writerow([cell(c.value(r)) for c in cols])


SHORT_CELL = 24
"""A column whose every value is at most this long (a code, a state, a time) is never cut."""


def _fit(longest: list[int], room: int) -> list[int]:
    """Column widths for ``room`` characters, giving way in order of priority.

    The first column (what each row is: a code, an address) is never cut. Long
    columns (names, reasons: over ``SHORT_CELL``) give way first, sharing what
    is left evenly (a narrower one keeps all it needs). If that is not enough,
    the other columns give way from the right, as the least important come last.
    No column is cut below five characters; past that, the line is cut at the edge.
    """
    floor = 5
    widths = list(longest)
    excess = sum(widths) - room
    if excess <= 0:
        return widths
    long = [i for i, n in enumerate(longest) if i > 0 and n > SHORT_CELL]
    left = room - sum(n for i, n in enumerate(longest) if i not in long)
    while long:
        share = left // len(long)
        narrow = [i for i in long if longest[i] <= share]
        if not narrow:
            for i in long:
                widths[i] = max(share, floor)
            break
        for i in narrow:
            left -= longest[i]
            long.remove(i)
    excess = sum(widths) - room
    for i in range(len(widths) - 1, 0, -1):
        if excess <= 0:
            break
        give = min(excess, max(0, widths[i] - floor))
        widths[i] -= give
        excess -= give
    return widths


def _write_table(io: IOStreams, records: list[dict], cols: list[Column], title: str | None, *,
                 wide: bool = False) -> None:
    rows = [[c.text(r) for c in cols] for r in records]
    if io.out_tty:
        from rich.table import Table

        table = Table(title=title, box=None, header_style="bold", pad_edge=False)
        longest = [max([len(c.title), *(len(row[i]) for row in rows)]) for i, c in enumerate(cols)]
        widths = longest if wide else _fit(longest, io.console().width - 2 * (len(cols) - 1))
        for c, width in zip(cols, widths):
            table.add_column(c.title, no_wrap=True, overflow="ellipsis", width=width)
        for row in rows:
            table.add_row(*row)
        # -o wide: the whole line, however long (the terminal wraps it, as kubectl's does).
        io.console(width=10_000 if wide else None).print(table, crop=not wide)
        return
    from tabulate import tabulate

    io.out.write(tabulate(rows, headers=[c.title for c in cols], tablefmt="plain", disable_numparse=True) + "\n")


def _write_record(io: IOStreams, record: dict, cols: list[Column]) -> None:
    """One record as "FIELD  value" lines: easier to read than a one-row table."""
    width = max((len(c.title) for c in cols), default=0)
    lines = [f"{c.title.ljust(width)}  {c.text(record)}" for c in cols]
    if io.out_tty:
        from rich.text import Text

        console = io.console()
        for c in cols:
            console.print(Text(c.title.ljust(width), style="bold"), Text(c.text(record)))
        return
    io.out.write("\n".join(lines) + "\n")
