"""What every request's input must be before any route sees it.

The route frame (``scope.ApiRoute``) runs ``check`` on every request, after
authentication and before the endpoint and its validation, so that no plugin
can forget it and no input the database or a validator cannot take ends as a
500:

- **NUL** (``\\x00``) in a path segment, a query parameter or any string of a
  JSON body (keys included) is a 422 naming the field: PostgreSQL cannot store
  it in a text column, and nothing in this API needs it.
- **Integers** must fit the columns they are compared with or stored in. An
  integer path parameter names a row by its id; the id columns are SQL
  ``INTEGER`` (32-bit on PostgreSQL), so a number outside that range names
  nothing: 404. An integer query parameter or JSON body number outside the
  64-bit signed range (what ``BIGINT`` holds) is a 422.
- **Strings**: where the body's model expects a string, anything else is a 422
  *before* the model's own validators run (a ``mode="before"`` validator may
  otherwise call ``.strip()`` on a dict).

The answers are problem+json, as every other error (``problems.invalid_request``).
"""

from __future__ import annotations

import email.message
import types
import typing
from typing import Any, Iterator, Union

from fastapi import Request
from pydantic import BaseModel

from egactl.server.problems import Problem, invalid_request

ID_MIN, ID_MAX = -(2**31), 2**31 - 1
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
NUL = "\x00"
NUL_MESSAGE = "must not contain NUL (\\x00) characters"


async def check(route: Any, request: Request) -> None:
    """Refuse, with a 404 or a 422, a request whose input no route can take (``route``: an ApiRoute)."""
    errors: list[dict[str, Any]] = []
    path_params, query_params = route.input_parameters
    for alias, is_int in path_params:
        raw = request.path_params.get(alias)
        if not isinstance(raw, str):
            continue
        if NUL in raw:
            errors.append({"field": alias, "message": NUL_MESSAGE})
        elif is_int and _out_of_range(raw, ID_MIN, ID_MAX):
            noun = alias.removesuffix("_id").replace("_", " ")
            raise Problem(404, f"{noun} {raw} not found")
    if request.query_params:
        for alias, is_int in query_params:
            for raw in request.query_params.getlist(alias):
                if NUL in raw:
                    errors.append({"field": alias, "message": NUL_MESSAGE})
                elif is_int and _out_of_range(raw, INT_MIN, INT_MAX):
                    errors.append({"field": alias, "message": f"out of range (a whole number between {INT_MIN} and {INT_MAX})"})
    if route.body_field is not None and not _is_form(route):
        body = await _json_body(request)
        if body is not _NO_BODY:
            errors += _body_errors(body, ())
            if not errors:
                errors += _type_errors(route.body_field.field_info.annotation, body, ())
    if errors:
        raise invalid_request(errors)


Parameters = tuple[tuple[str, bool], ...]


def parameters(dependant: Any) -> tuple[Parameters, Parameters]:
    """A route's path and query parameters: (name, whether an integer), each.

    The route frame reads them from the route's signature once, when the route is
    made (``ApiRoute.input_parameters``): unwrapping the annotations on every
    request was most of what this check cost."""
    return tuple(tuple((f.alias, _is_int(f.field_info.annotation)) for f in fields)
                 for fields in (dependant.path_params, dependant.query_params))  # type: ignore[return-value]


# -- the JSON body --------------------------------------------------------------

_NO_BODY = object()


async def _json_body(request: Request) -> Any:
    """The JSON body as FastAPI will read it (Starlette caches it), or _NO_BODY."""
    if not await request.body():
        return _NO_BODY
    content_type = request.headers.get("content-type")
    if content_type:
        message = email.message.Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        if message.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
            return _NO_BODY
    try:
        return await request.json()
    except ValueError:  # not JSON (or not UTF-8): FastAPI's own validation answers it
        return _NO_BODY


def _body_errors(value: Any, loc: tuple) -> Iterator[dict[str, Any]]:
    if isinstance(value, str):
        if NUL in value:
            yield {"field": _dotted(loc), "message": NUL_MESSAGE}
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            yield {"field": _dotted(loc), "message": f"out of range (a whole number between {INT_MIN} and {INT_MAX})"}
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield {"field": _dotted(loc + (key.replace(NUL, "\\x00"),)), "message": f"the name {NUL_MESSAGE}"}
            else:
                yield from _body_errors(item, loc + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _body_errors(item, loc + (i,))


def _type_errors(annotation: Any, value: Any, loc: tuple) -> list[dict[str, Any]]:
    """Where the model expects a string (or a model, or a list), the value must be one.

    Only what the annotation says for sure is checked; pydantic judges the rest.
    """
    annotation, optional = _unwrap(annotation)
    if value is None and optional:
        return []
    if annotation is str:
        return [] if isinstance(value, str) else [{"field": _dotted(loc) or None, "message": "must be a string"}]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(value, dict):
            return []  # pydantic says "should be a valid dictionary"
        errors = []
        for name, info in annotation.model_fields.items():
            key = info.validation_alias if isinstance(info.validation_alias, str) else (info.alias or name)
            if key in value:
                errors += _type_errors(info.annotation, value[key], loc + (key,))
        return errors
    if typing.get_origin(annotation) in (list, tuple, set, frozenset) and isinstance(value, list):
        args = typing.get_args(annotation)
        if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis):
            errors = []
            for i, item in enumerate(value):
                errors += _type_errors(args[0], item, loc + (i,))
            return errors
    return []


# -- helpers --------------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """Annotated[X, ...] → X; Optional[X] → (X, True); other unions stay as they are."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                optional = True
                annotation = args[0]
                continue
        return annotation, optional


def _is_int(annotation: Any) -> bool:
    annotation, _ = _unwrap(annotation)
    return annotation is int


def _out_of_range(raw: str, low: int, high: int) -> bool:
    """A well-formed integer outside [low, high] (anything else is pydantic's to judge)."""
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        return False
    if len(digits) > 40:
        return True
    return not low <= int(text) <= high


def _is_form(route: Any) -> bool:
    from fastapi import params

    info = route.body_field.field_info
    return isinstance(info, (params.Form, params.File))


def _dotted(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)

