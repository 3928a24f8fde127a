"""egactl api: an authenticated raw request, like `gh api`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

from egactl import context
from egactl.errors import InvalidInput
from egactl.grammar import old_flags

app = typer.Typer(help="Make an authenticated API request (for scripting).", add_completion=False)


def _typed(value: str) -> Any:
    """-F values: true/false/null/numbers become JSON values; @file reads a file."""
    if value.startswith("@"):
        return Path(value[1:]).read_text("utf-8")
    for literal, result in (("true", True), ("false", False), ("null", None)):
        if value == literal:
            return result
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _fields(raw: list[str], typed: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for items, convert in ((raw, str), (typed, _typed)):
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise InvalidInput(f"field {item!r} must look like key=value")
            fields[key] = convert(value)
    return fields


def _print_pages(ctx: Any, pages: Iterator[list[Any]]) -> None:
    """--paginate: every page's items as one JSON array, each page printed as it arrives and
    none kept (what ``json.dumps`` of the whole list, indented, printed). A --query that maps
    the list item by item applies to each page in turn, and streams too; any other needs the
    whole list, collected first."""
    from egactl.output import apply_query, compile_query, write_json_pages

    query = ctx.query
    if query is None:
        write_json_pages(ctx.io.out, pages)
    elif _item_by_item(compile_query(query).parsed):  # a bad query fails before any request
        write_json_pages(ctx.io.out, (apply_query(page, query) for page in pages))
    else:
        items = [item for page in pages for item in page]
        ctx.io.out.write(json.dumps(apply_query(items, query), indent=2, ensure_ascii=False) + "\n")


def _item_by_item(node: dict[str, Any]) -> bool:
    """Whether a JMESPath expression (its parsed tree) is a projection or a filter of the list
    itself (``[].code``, ``[*].[a, b]``, ``[?kind=='LGA']``, ``[]``): over the whole list it gives
    what it gives over each page, joined. ``length(@)``, ``[0]``, ``[:5]``, ``sort_by(...)``, a
    pipe after the projection, do not."""
    if node["type"] not in ("projection", "filter_projection"):
        return False
    over = node["children"][0]
    return over["type"] == "identity" or (over["type"] == "flatten" and over["children"][0]["type"] == "identity")


@old_flags({"-i": "--include"})  # -i is --institution everywhere else
@app.command()
def api(method: Annotated[str, typer.Argument(help="GET, POST, PATCH, PUT or DELETE.")],
        path: Annotated[str, typer.Argument(help="Path, e.g. /api/v1/institutions (or institutions).")],
        field: Annotated[Optional[list[str]], typer.Option("--raw-field", "-f", help="key=value string field.")] = None,
        typed_field: Annotated[Optional[list[str]], typer.Option("--field", "-F", help="key=value typed field (numbers, true/false/null, @file).")] = None,
        header: Annotated[Optional[list[str]], typer.Option("--header", "-H", help="Extra header 'Name: value'.")] = None,
        input_: Annotated[Optional[str], typer.Option("--input", help="Request body from a file ('-' for stdin).")] = None,
        include: Annotated[bool, typer.Option("--include", help="Print the status line and headers too.")] = False,
        paginate: Annotated[bool, typer.Option("--paginate", help="Follow next_cursor and print all items, page by page.")] = False):
    """Call the API with your credentials and print the JSON response.

    For GET, fields become query parameters; otherwise a JSON body. Exit codes
    follow the HTTP status (404 → 3, 409 → 5, …). --paginate prints one JSON array
    of every page's items as the pages arrive (-f limit=N: the page size); a --query
    that picks from each item ("[].code", "[?kind=='LGA']") applies page by page,
    any other (length(@)) to the whole list, collected first.

    Examples:

      egactl api GET institutions -f kind=LGA

      egactl api GET institutions --paginate --query "[].code"

      egactl api PATCH institutions/RITA -f region=Dodoma --include
    """
    ctx = context.get()
    method = method.upper()
    if method not in ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"):
        raise InvalidInput(f"unsupported method {method!r}")
    if not path.startswith("/"):
        path = "/api/v1/" + path
    fields = _fields(field or [], typed_field or [])
    headers = {}
    for h in header or []:
        name, sep, value = h.partition(":")
        if not sep:
            raise InvalidInput(f"header {h!r} must look like 'Name: value'")
        headers[name.strip()] = value.strip()
    client = ctx.api()
    if paginate:
        if method != "GET":
            raise InvalidInput("--paginate works with GET only")
        # -f limit=N is the API's page size here, not a cap on the total; the client owns the cursor.
        fields.pop("cursor", None)
        page_size = fields.pop("limit", 100)
        try:
            page_size = int(page_size)
        except ValueError:
            raise InvalidInput(f"limit must be a whole number, not {page_size!r}") from None
        # The fields ride in the path's query, so that any name (path, page_size…) is the API's, not a keyword here.
        import httpx

        query = str(httpx.QueryParams({k: v for k, v in fields.items() if v is not None}))
        if query:
            path += ("&" if "?" in path else "?") + query
        # JSON like every other `egactl api` answer (a table would depend on -o defaults).
        _print_pages(ctx, client.pages(path, page_size=page_size))
        return
    body: bytes | None = None
    params: dict[str, Any] | None = None
    if input_:
        body = sys.stdin.buffer.read() if input_ == "-" else Path(input_).read_bytes()
        headers.setdefault("Content-Type", "application/json")
        if fields:
            params = fields
    elif method in ("GET", "HEAD", "DELETE"):
        params = fields
    elif fields:
        body = json.dumps(fields).encode()
        headers.setdefault("Content-Type", "application/json")
    idem = None
    if method == "POST" and not any(k.lower() == "idempotency-key" for k in headers):
        from egactl.api_client import new_idempotency_key

        idem = new_idempotency_key()
    response = client.request(method, path, params=params, content=body, headers=headers, idempotency_key=idem,
                              raise_for_status=False)
    if include:
        ctx.io.out.write(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\n")
        for name, value in response.headers.items():
            ctx.io.out.write(f"{name}: {value}\n")
        ctx.io.out.write("\n")
    if response.content:
        try:
            data = response.json()
        except ValueError:
            ctx.io.out.write(response.text + ("\n" if not response.text.endswith("\n") else ""))
        else:
            if response.status_code < 400:
                from egactl.output import apply_query

                ctx.io.out.write(json.dumps(apply_query(data, ctx.query), indent=2, ensure_ascii=False) + "\n")
            else:
                ctx.io.out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if response.status_code >= 400:
        from egactl.api_client import problem_error

        raise problem_error(response)
