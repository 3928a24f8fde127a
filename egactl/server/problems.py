"""RFC 9457 problem+json: the one error shape of the API.

Route code raises ``Problem`` (or one of its helpers); the handlers installed by
``install`` turn it, validation errors and anything unexpected into
``application/problem+json`` responses. An unexpected error never leaks a
traceback: it carries the request id so an operator can find it in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from egactl.plugin.rules import IllegalTransition

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("egactl.server")

TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    409: "Conflict", 412: "Precondition Failed", 422: "Unprocessable Content",
    428: "Precondition Required", 429: "Too Many Requests", 500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(Exception):
    def __init__(self, status: int, detail: str, *, title: str | None = None, type: str = "about:blank",
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.type = type
        self.errors = errors
        self.headers = headers
        self.extra = extra

    def body(self, request: Request | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if request is not None:
            data["instance"] = request.url.path
            if rid := request.headers.get("X-Request-ID"):
                data["request_id"] = rid
        if self.errors:
            data["errors"] = self.errors
        data.update(self.extra)
        return data

    def response(self, request: Request | None = None) -> JSONResponse:
        return JSONResponse(self.body(request), status_code=self.status, media_type=MEDIA_TYPE, headers=self.headers)


def not_found(what: str) -> Problem:
    return Problem(404, f"{what} not found")


def conflict(detail: str, **extra: Any) -> Problem:
    return Problem(409, detail, **extra)


def invalid(detail: str, field: str | None = None) -> Problem:
    errors = [{"field": field, "message": detail}] if field else None
    return Problem(422, detail, errors=errors)


def forbidden(detail: str) -> Problem:
    return Problem(403, detail)


# pydantic's prefixes for an exception raised in a validator: the rule's own words follow.
_VALIDATOR_PREFIXES = ("Value error, ", "Assertion failed, ")


def _plain(message: str) -> str:
    """A validation message in the rule's words, without pydantic's "Value error, " in front."""
    for prefix in _VALIDATOR_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


_PLAIN_BY_TYPE = {
    "missing": "is required",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "string_pattern_mismatch": "has characters that are not allowed here",
    "datetime_parsing": "must be a date and time such as 2026-11-29T19:47:00+03:00",
    "datetime_from_date_parsing": "must be a date and time such as 2026-11-29T19:47:00+03:00",
    "date_parsing": "must be a date such as 2026-11-29",
    "json_invalid": "is not valid JSON",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "extra_forbidden": "is not a field this request takes",
}


def _in_words(err: dict[str, Any]) -> str:
    """A pydantic error in plain words ("must be at least 2 characters"), not pydantic's
    phrasing ("String should have at least 2 characters")."""
    template = _PLAIN_BY_TYPE.get(err.get("type", ""))
    if template is not None:
        try:
            return template.format(**(err.get("ctx") or {}))
        except (KeyError, IndexError, ValueError):
            pass
    return _plain(err.get("msg", "invalid"))


def invalid_request(errors: list[dict[str, Any]]) -> Problem:
    """The 422 for input that failed validation: every field error, the first in the detail."""
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return Problem(422, f"invalid request: {detail}", errors=errors)


# -- the contract: what an error response looks like, and which routes answer which --


class FieldError(BaseModel):
    field: str | None = Field(description="Dotted path of the offending field (`items.3.phone`), or null")
    message: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem: the body of every error response (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(default="about:blank", description="A URI naming the problem type")
    title: str = Field(description="Short summary of the status")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, in one line for people")
    instance: str | None = Field(default=None, description="The request path")
    request_id: str | None = Field(default=None, description="X-Request-ID of the request, for the server log")
    errors: list[FieldError] | None = Field(default=None, description="Field errors (422)")


DESCRIPTIONS = {
    400: "The request could not be read",
    401: "No valid bearer token",
    403: "The token's role or institutions do not allow this",
    404: "No such resource (or one the request refers to)",
    409: "Conflicts with existing data (taken, wrong state, already done)",
    412: "The resource changed since it was read (stale If-Match or concurrent update)",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests (failed authentications); retry after Retry-After",
    503: "Busy; retry after Retry-After",
}
SCHEMA_REF = "#/components/schemas/ProblemDetails"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry: problem+json with the ProblemDetails schema."""
    return {"description": description or DESCRIPTIONS.get(status, TITLES.get(status, "Error")),
            "content": {MEDIA_TYPE: {"schema": {"$ref": SCHEMA_REF}}}}


def route_responses(methods: set[str], path: str, *, params: bool, body: bool) -> dict[int, dict[str, Any]]:
    """The error responses the route frame can give for a route, whatever the route does.

    Every route authenticates (401, and 429 when failed attempts are throttled),
    checks permissions (403) and may find the service busy (503). A route with
    parameters validates them (422) and names or filters by a resource that may
    not exist (404); a body may be unreadable (400) or invalid (422). A write
    refers to other resources (404), can conflict with existing data (409) and
    can lose a race with a concurrent update (412).
    """
    codes = {401, 403, 429, 503}
    if params or "{" in path:
        codes |= {404, 422}
    if body:
        codes |= {400, 422}
    if set(methods) & WRITE_METHODS:
        codes |= {404, 409, 412}
    return {code: problem_response(code) for code in sorted(codes)}


def _document(app: FastAPI) -> None:
    """Add the ProblemDetails schema the routes' error responses refer to."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            defs = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            defs.update(problem.pop("$defs", {}))
            defs["ProblemDetails"] = problem
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def busy() -> Problem:
    """503: the database stayed busy; nothing was changed, retry after a second."""
    return Problem(503, "the database stayed busy (another writer held it past the busy timeout)",
                   headers={"Retry-After": "1"})


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return exc.response(request)

    _document(app)

    @app.exception_handler(IllegalTransition)
    async def _illegal(request: Request, exc: IllegalTransition):
        # A lifecycle (egactl.plugin.rules.Lifecycle) refused the move: the
        # resource's state conflicts with the request, whichever plugin asked.
        return Problem(409, str(exc), state=exc.state).response(request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            errors.append({"field": ".".join(loc) or None, "message": _in_words(err)})
        return invalid_request(errors).response(request)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError):
        # The database refused a value (out of range for its column, too long, not
        # representable): the client's input, which validation should have caught
        # first. 422 for the caller; a warning naming the gap for the developer.
        log.warning("the database refused a value for %s %s (request id %s): %s", request.method, request.url.path,
                    request.headers.get("X-Request-ID"), type(exc.orig).__name__ if exc.orig else exc)
        return Problem(422, "a value does not fit what the database can store (out of range or too long)").response(request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such API path: {request.method} {request.url.path}"
        return Problem(exc.status_code, detail, headers=getattr(exc, "headers", None)).response(request)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError):
        # A concurrent writer changed the row between our read and our write
        # (models with a version_id_col): the same answer as a stale If-Match.
        return Problem(412, "the resource changed while this request ran; read it again and retry").response(request)

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError):
        # The database stayed busy past its timeout (SQLite's write lock, a
        # PostgreSQL deadlock): the transaction was rolled back, so a retry is safe.
        from egactl.server.db import is_busy

        if is_busy(exc):
            return busy().response(request)
        return unexpected(request, log_it=True)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return unexpected(request, log_it=True)


def unexpected(request: Request, *, log_it: bool) -> JSONResponse:
    """The 500 answer: the traceback goes to the log with the request id, never to the caller."""
    if log_it:
        log.exception("unhandled error for %s %s (request id %s)", request.method, request.url.path,
                      request.headers.get("X-Request-ID"))
    return Problem(500, "the server failed to handle this request").response(request)
