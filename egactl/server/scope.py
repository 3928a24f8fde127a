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
   its idempotency record, committed together — or rolled back together.

Route code reads the scope through ``db()``, ``principal()`` and ``backend()``.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from egactl.server import idempotency, inputs
from egactl.server.backend import Backend
from egactl.server.problems import Problem, route_responses
from egactl.server.security import Principal, authenticate

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Scope:
    backend: Backend
    request_id: str
    write: bool
    principal: Principal | None = None
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


def insert_unique(row: Any, conflict: str) -> Any:
    """Add and flush ``row``; a unique-constraint clash becomes a 409 saying ``conflict``.

    The savepoint keeps the rest of the request's transaction usable. The
    database's constraint is the judge (never read-then-insert), so this is
    race-free on SQLite and PostgreSQL alike.
    """
    session = db()
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Problem(409, conflict) from None
    return row


def helpdesk_allowed(func: Callable) -> Callable:
    """Mark a mutating endpoint the read-only helpdesk role may still call
    (e.g. recording the result of a check it ran). Use sparingly."""
    func.__egactl_helpdesk_allowed__ = True  # type: ignore[attr-defined]
    return func


class ApiRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # The contract documents the problem+json answers the frame can give
        # for this route (401, 403, 404, 409, 412, 422, 429, 503, as it applies);
        # what the route declares itself wins.
        dependant = self.dependant
        self.responses = {**route_responses(self.methods, path, params=bool(dependant.path_params or dependant.query_params),
                                            body=self.body_field is not None), **self.responses}

    def get_route_handler(self) -> Callable:
        endpoint_handler = super().get_route_handler()
        helpdesk_ok = getattr(self.endpoint, "__egactl_helpdesk_allowed__", False)
        secret = getattr(self.endpoint, "__egactl_secret_response__", None)

        async def handler(request: Request) -> Response:
            be: Backend = request.app.state.backend
            write = request.method not in SAFE_METHODS
            scope = Scope(be, request.headers.get("X-Request-ID") or str(uuid.uuid4()), write)
            token = _scope.set(scope)
            try:
                scope.principal = await run_in_threadpool(_authenticate, be, request.headers.get("Authorization"))
                if write and scope.principal.role == "helpdesk" and not helpdesk_ok:
                    raise Problem(403, "the helpdesk role is read-only")
                await inputs.check(self, request)
                key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
                if key:
                    body = await request.body()
                    fingerprint = idempotency.fingerprint(request.method, str(request.url.path),
                                                          str(request.url.query), body)
                    replay = await run_in_threadpool(idempotency.lookup, be, scope.principal, key, fingerprint)
                    if replay is not None:
                        return replay
                try:
                    response = await endpoint_handler(request)
                except Exception:
                    await _settle(request, _rollback, scope)
                    if key and (replay := await _settle(request, _twin, scope, key, fingerprint)) is not None:
                        return replay
                    raise
                except BaseException:
                    await _settle(request, _rollback, scope)
                    raise
                if not write:
                    return response
                if response.status_code >= 400:
                    await _settle(request, _rollback, scope)
                    if key and (replay := await _settle(request, _twin, scope, key, fingerprint)) is not None:
                        return replay
                    return response
                return await _settle(request, _commit, scope, key, fingerprint if key else None, response,
                                     secret, request.url.path)
            finally:
                await _settle(request, scope.close)
                _scope.reset(token)

        return handler


SETTLE_THREADS = 16


async def _settle(request: Request, func: Callable[..., Any], *args: Any) -> Any:
    """Run commit/rollback/close on threads of their own.

    Endpoints run on the shared request thread pool (40 threads). When all of
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


def _authenticate(be: Backend, authorization: str | None) -> Principal:
    with be.read_sessions() as session:
        return authenticate(session, authorization, be.now())


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
    if scope.backend.sandbox:
        scope.backend.run_workers()
    return response
