"""The request scope: who is calling, in which transaction, with which request id.

``ApiRoute`` (every API route uses it) wraps each endpoint so that, in one
place and for every plugin alike:

1. the bearer token is authenticated before the endpoint runs;
2. the helpdesk role can never mutate anything;
2b. input no route can take is refused before the route runs: NUL characters,
   integers beyond the database's columns, non-strings where strings are
   expected (``inputs.check``: 404/422, never a 500);
3. a POST with an ``Idempotency-Key`` is replayed from the store (same key and
   body) or refused with 422 (same key, other body);
4. the endpoint runs in one transaction that also holds its audit entries and
   its idempotency record, committed together — or rolled back together;
5. a mutating request's If-Match is evaluated (``etag.guard``) or the request
   fails with 412: a route cannot silently ignore a precondition.

Route code reads the scope through ``db()``, ``principal()`` and ``backend()``.

A route marked :func:`own_authentication` (an endpoint speaking another
system's protocol, e.g. the GovESB emulator's, whose callers hold the bus's
OAuth token, not an egactl token) skips steps 1, 2 and 3: it starts with
:data:`ANONYMOUS`, who may read and change nothing, authenticates its caller
itself and names it with :func:`act_as`; steps 2b, 4 and 5 hold as for any route.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from egactl.server import authcache, idempotency, inputs, request_threads
from egactl.server.backend import Backend
from egactl.server.models import ApiToken
from egactl.server.problems import Problem, route_responses
from egactl.server.security import FailedLogins, Principal, failures_per_minute, guarded_authenticate, refuse_if_held_back

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DRY_RUN_HEADER = "X-Dry-Run"


def _dry_run(request: Request) -> bool:
    value = request.headers.get(DRY_RUN_HEADER)
    if value is None or value.strip().lower() == "false":
        return False
    if value.strip().lower() == "true":
        return True
    raise Problem(400, f"{DRY_RUN_HEADER} must be true or false, not {value[:40]!r}")


@dataclass
class Scope:
    backend: Backend
    request_id: str
    write: bool
    principal: Principal | None = None
    if_match: str | None = None
    if_match_evaluated: bool = False
    dry_run: bool = False
    """``X-Dry-Run: true``: the change runs in full (every rule, lock and conflict) and is rolled back."""
    own_authentication: bool = False
    """The route authenticates its caller itself (:func:`own_authentication`)."""
    response_headers: dict[str, str] = field(default_factory=dict)
    """Headers a helper of the route adds to a successful answer (e.g. a page's ``X-Total-Count``)."""
    _session: Session | None = field(default=None, repr=False)

    @property
    def session(self) -> Session:
        if self._session is None:
            factory = self.backend.write_sessions if self.write else self.backend.read_sessions
            self._session = factory()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


_scope: contextvars.ContextVar[Scope] = contextvars.ContextVar("egactl_scope")


def current() -> Scope:
    return _scope.get()


def db() -> Session:
    return _scope.get().session


def principal() -> Principal:
    p = _scope.get().principal
    assert p is not None, "route ran without authentication"
    return p


def backend() -> Backend:
    return _scope.get().backend


def secret_response(noun: str) -> Callable[[Callable], Callable]:
    """Mark a creating endpoint whose response holds a secret shown once (a token,
    an initial password). Its Idempotency-Key record keeps no copy of the
    response: a retry with the key gets a 409 naming what was created, instead
    of a second one — and the server still stores no secret in clear."""

    def mark(func: Callable) -> Callable:
        func.__egactl_secret_response__ = noun  # type: ignore[attr-defined]
        return func

    return mark


@contextlib.contextmanager
def conflict_as_409(conflict: str) -> Iterator[Session]:
    """Run a change in a savepoint and flush it; a constraint it breaks (unique, or a
    row still referenced) becomes a 409 saying ``conflict``.

    The savepoint keeps the rest of the request's transaction usable. The
    database's constraint is the judge (never read-then-write), so this is
    race-free on SQLite and PostgreSQL alike.
    """
    session = db()
    try:
        with session.begin_nested():
            yield session
            session.flush()
    except IntegrityError:
        raise Problem(409, conflict) from None


def insert_unique(row: Any, conflict: str) -> Any:
    """Add and flush ``row``; a unique-constraint clash becomes a 409 saying ``conflict``."""
    with conflict_as_409(conflict) as session:
        session.add(row)
    return row


EXISTS_HEADER = "X-Egactl-Outcome"
"""Set to ``exists`` on the 200 answer of a create that found its object already there, as asked."""


def same_or_conflict(existing: Any, asked: dict[str, Any], *, what: str) -> Any:
    """A create whose key is taken: the rule every create follows.

    If ``existing`` holds what ``asked`` asks for (a field asked as None asks for
    nothing, so a re-run with fewer options is the same create), it is returned
    and the answer is marked ``exists`` (the route answers it with 200, nothing
    changed, nothing audited). Otherwise 409 naming each field that differs, with
    what is there and what was asked (``errors``, and ``differs`` for scripts).
    """
    differ = [f for f, v in asked.items() if v is not None and getattr(existing, f) != v]
    if differ:
        named = ", ".join(differ[:-1]) + " and " + differ[-1] if len(differ) > 1 else differ[0]
        raise Problem(409, f"{what} already exists with other values for {named}",
                      errors=[{"field": f, "message": f"is {_shown(getattr(existing, f))} there, not {_shown(asked[f])}"}
                              for f in differ],
                      differs=differ)
    current().response_headers[EXISTS_HEADER] = "exists"
    return existing


def _shown(value: Any) -> str:
    return "(none)" if value is None else repr(value)


ANONYMOUS = Principal(token_id=0, subject="anonymous", role="anonymous", institutions=())
"""The caller of an own-authentication route until it says who the caller is: reads and changes nothing."""


def own_authentication(func: Callable) -> Callable:
    """Mark an endpoint that authenticates its callers itself (another system's
    credentials, e.g. the bus's OAuth token): the frame does not read egactl's
    bearer token for it (an egactl token sent to it gives no rights), does not
    apply the help desk's read-only rule or Idempotency-Key replay, and runs it
    in its transaction as usual with :data:`ANONYMOUS` as the principal, until
    the route calls :func:`act_as` with the caller it authenticated."""
    func.__egactl_own_authentication__ = True  # type: ignore[attr-defined]
    return func


def act_as(subject: str, *, role: str, institutions: tuple[str, ...] | list[str] = ()) -> Principal:
    """In an :func:`own_authentication` route: the caller the route has authenticated,
    who the audit entries of the request then name (and whose rights ``principal()``
    then checks). Refused anywhere else: an egactl-authenticated caller is who it is."""
    scope = _scope.get()
    if not scope.own_authentication:
        raise RuntimeError("act_as() is only for routes marked @own_authentication")
    scope.principal = Principal(token_id=0, subject=subject, role=role, institutions=tuple(institutions))
    return scope.principal


def helpdesk_allowed(func: Callable) -> Callable:
    """Mark a mutating endpoint the read-only helpdesk role may still call
    (e.g. recording the result of a check it ran). Use sparingly."""
    func.__egactl_helpdesk_allowed__ = True  # type: ignore[attr-defined]
    return func


def _one_thread(func: Callable) -> Callable:
    """A plain (synchronous) endpoint as a coroutine that runs it on one request thread.

    FastAPI would otherwise take a thread for the endpoint and another one
    for checking its return value against the response model; each hand-over
    between the event loop and a thread costs more than that check itself.
    """
    if inspect.iscoroutinefunction(func) or inspect.isgeneratorfunction(func) or not inspect.isfunction(func):
        return func

    @functools.wraps(func)  # FastAPI reads the parameters (and our markers) through __wrapped__
    async def endpoint(**kwargs: Any) -> Any:
        return await request_threads.run(_run_and_release, func, kwargs)

    return endpoint


def _run_and_release(func: Callable, kwargs: dict[str, Any]) -> Any:
    """Run the endpoint; a read whose answer is plain data closes its session here,
    on the same thread, instead of waiting for one more thread to do it."""
    result = func(**kwargs)
    scope = _scope.get(None)
    if scope is not None and not scope.write and scope._session is not None and _plain(result):
        scope.close()
    return result


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any, depth: int = 0) -> bool:
    """Data that needs no database session any more (no ORM objects to load lazily).

    Walked for every read's answer (a page is hundreds of values), so the common
    case, a value of an exact JSON scalar type, costs one set look-up."""
    if type(value) in _SCALARS:
        return True
    if isinstance(value, (dict, list, tuple)):
        if depth > 8:
            return False
        for v in (value.values() if isinstance(value, dict) else value):
            if type(v) not in _SCALARS and not _plain(v, depth + 1):
                return False
        return True
    if isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, Response):
        return not isinstance(value, StreamingResponse)  # a stream may still read from the session
    return False


class ApiRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _one_thread(endpoint), **kwargs)
        # The contract documents the problem+json answers the frame can give
        # for this route (401, 403, 404, 409, 412, 422, 429, 503, as it applies);
        # what the route declares itself wins.
        dependant = self.dependant
        self.input_parameters = inputs.parameters(dependant)  # what inputs.check reads on each request
        self.responses = {**route_responses(self.methods, path, params=bool(dependant.path_params or dependant.query_params),
                                            body=self.body_field is not None), **self.responses}

    def get_route_handler(self) -> Callable:
        endpoint_handler = super().get_route_handler()
        helpdesk_ok = getattr(self.endpoint, "__egactl_helpdesk_allowed__", False)
        secret = getattr(self.endpoint, "__egactl_secret_response__", None)
        own_auth = getattr(self.endpoint, "__egactl_own_authentication__", False)

        async def handler(request: Request) -> Response:
            be: Backend = request.app.state.backend
            write = request.method not in SAFE_METHODS
            scope = Scope(be, request.headers.get("X-Request-ID") or str(uuid.uuid4()), write)
            scope.if_match = request.headers.get("If-Match") if write else None
            scope.own_authentication = own_auth
            token = _scope.set(scope)
            try:
                if own_auth:
                    # No egactl token is read here, so none can be smuggled in: the route
                    # authenticates its caller by its own protocol and names it (act_as).
                    # Its 401s count as failed authentications of the address, as egactl's
                    # own do, and an address held back for them is refused here alike.
                    refuse_if_held_back(_failed_logins(request), _client(request), be.now(), _auth_limit(be))
                    scope.principal = ANONYMOUS
                else:
                    authorization = request.headers.get("Authorization")
                    # A client held back for failed authentications is refused even with a
                    # token remembered from before: only a clean record may use the cache.
                    scope.principal = ((_failed_logins(request).retry_after(_client(request), be.now(), _auth_limit(be)) is None
                                        and authcache.recall(be, authorization))
                                       or await run_in_threadpool(_authenticate, be, request))
                    if write and scope.principal.role == "helpdesk" and not helpdesk_ok:
                        raise Problem(403, "the helpdesk role is read-only")
                await inputs.check(self, request)
                scope.dry_run = write and _dry_run(request)
                key = (request.headers.get("Idempotency-Key")
                       if request.method == "POST" and not scope.dry_run and not own_auth else None)
                if key:
                    body = await request.body()
                    fingerprint = idempotency.fingerprint(request.method, str(request.url.path),
                                                          str(request.url.query), body)
                    replay = await run_in_threadpool(idempotency.lookup, be, scope.principal, key, fingerprint)
                    if replay is not None:
                        return replay
                try:
                    response = await endpoint_handler(request)
                except Exception as exc:
                    if own_auth and isinstance(exc, Problem) and exc.status == 401:
                        _failed_logins(request).failed(_client(request), be.now())
                    await _settle(request, _rollback, scope)
                    if key and (replay := await _settle(request, _twin, scope, key, fingerprint)) is not None:
                        return replay
                    raise
                except BaseException:
                    await _settle(request, _rollback, scope)
                    raise
                if own_auth and response.status_code == 401:
                    _failed_logins(request).failed(_client(request), be.now())
                if not write:
                    if response.status_code < 400:
                        response.headers.update(scope.response_headers)
                    return response
                if response.status_code < 400 and not _precondition_evaluated(scope):
                    await _settle(request, _rollback, scope)
                    return Problem(412, f"If-Match was sent but {request.method} {request.url.path} changes no "
                                        "versioned resource, so it cannot match; send the request without "
                                        "If-Match").response(request)
                if response.status_code < 400 and scope.dry_run:
                    # Judged exactly as the real change (the same transaction, rules,
                    # locks and constraints), then undone: nothing stored, no worker run.
                    await _settle(request, _rollback, scope)
                    response.headers.update(scope.response_headers)
                    response.headers[DRY_RUN_HEADER] = "true"
                    return response
                if response.status_code >= 400:
                    await _settle(request, _rollback, scope)
                    if key and (replay := await _settle(request, _twin, scope, key, fingerprint)) is not None:
                        return replay
                    return response
                response.headers.update(scope.response_headers)
                return await _settle(request, _commit, scope, key, fingerprint if key else None, response,
                                     secret, request.url.path)
            finally:
                if scope._session is not None:  # no thread needed to close nothing
                    await _settle(request, scope.close)
                _scope.reset(token)

        return handler


SETTLE_THREADS = 16


async def _settle(request: Request, func: Callable[..., Any], *args: Any) -> Any:
    """Run commit/rollback/close on threads of their own.

    Endpoints run on the shared request thread pool (sized by the admission
    gate's capacity, egactl.server.admission). When all of
    them wait on one lock (SQLite's write lock, an allocation advisory lock),
    the request that holds the lock must still get a thread to commit and
    release it — otherwise every waiter times out (seen with 50 simultaneous
    GovNet provisions). A separate capacity limiter guarantees that.
    """
    import anyio

    state = request.app.state
    limiter = getattr(state, "settle_limiter", None)
    if limiter is None:
        limiter = state.settle_limiter = anyio.CapacityLimiter(SETTLE_THREADS)
    return await anyio.to_thread.run_sync(func, *args, limiter=limiter)


def _precondition_evaluated(scope: Scope) -> bool:
    """RFC 9110: a server must evaluate If-Match before applying a change. A
    route that changed something without holding it against a version (see
    ``etag.guard``) did not; its work is rolled back."""
    return scope.if_match is None or scope.if_match.strip() == "*" or scope.if_match_evaluated


def _failed_logins(request: Request) -> FailedLogins:
    # dict.setdefault is atomic: concurrent first requests share one record.
    return request.app.state._state.setdefault("failed_logins", FailedLogins())


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _auth_limit(be: Backend) -> int:
    return failures_per_minute(be.setting("auth", "failures_per_minute"))


def _authenticate(be: Backend, request: Request) -> Principal:
    """The token, checked; failures logged and rate-limited per client address (security.py);
    a success remembered for a moment (authcache.py)."""
    authorization = request.headers.get("Authorization")
    generation = authcache.generation()
    with be.read_sessions() as session:
        found = guarded_authenticate(session, authorization, be.now(), failures=_failed_logins(request),
                                     limit=_auth_limit(be), client=_client(request),
                                     route=f"{request.method} {request.url.path}")
        row = session.get(ApiToken, found.token_id)  # from the session's identity map: no second query
        authcache.remember(be, authorization, found, row.expires_at if row is not None else None, generation)
        return found


def _rollback(scope: Scope) -> None:
    if scope._session is not None:
        scope._session.rollback()


def _twin(scope: Scope, key: str, fingerprint: str) -> Response | None:
    """After a failure: did a concurrent request with the same key succeed meanwhile?

    Two deliveries of one request (a client's retry racing its original) both
    miss the store and run; the loser fails on what the winner just did (409:
    already exists). It must answer as the winner did, not report a conflict
    with itself.
    """
    assert scope.principal is not None
    return idempotency.lookup(scope.backend, scope.principal, key, fingerprint)


def _commit(scope: Scope, key: str | None, fingerprint: str | None, response: Response,
            secret: str | None = None, path: str = "") -> Response:
    session = scope.session
    assert scope.principal is not None
    try:
        if key and fingerprint:
            stored = idempotency.without_secret(response, secret, path) if secret else response
            idempotency.store(session, scope.principal, key, fingerprint, stored, scope.backend.now())
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if key and fingerprint and idempotency.is_key_clash(exc):
            # A concurrent request with the same key won: answer as it did.
            replay = idempotency.lookup(scope.backend, scope.principal, key, fingerprint)
            if replay is not None:
                return replay
        raise Problem(409, "the change conflicts with existing data (it may have been made already)") from None
    except OperationalError as exc:
        session.rollback()
        if "locked" in str(exc).lower():
            raise Problem(503, "the database is busy; try again", headers={"Retry-After": "1"}) from None
        raise
    scope.close()  # on this thread: the frame then needs no other one to close the session
    if scope.backend.sandbox:
        scope.backend.run_workers()
    return response
