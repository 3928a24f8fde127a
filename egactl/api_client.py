"""The one HTTP client every command and plugin uses.

What it guarantees, so plugins don't each reinvent it:

- explicit connect/read timeouts, TLS verified (a profile may name a CA bundle);
- an ``X-Request-ID`` on every request (shown in errors, stored in the audit log);
- retries with exponential backoff and full jitter on connection errors, 429
  and 503, honouring ``Retry-After`` — but only for idempotent methods and for
  POSTs carrying an ``Idempotency-Key``. The key is made once per logical
  operation and reused on every retry, so a retry after a lost response is
  answered from the server's idempotency store, never executed twice;
- problem+json errors turned into the exceptions of ``egactl.errors`` (and so
  into the exit codes of docs/exit-codes.md);
- ``--debug`` shows method, URL, status, timing (the client's, and the
  server's own from its ``Server-Timing: app;dur=``) and headers with
  credentials redacted;
- cursor pagination that follows ``next_cursor``.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
import uuid
from typing import Any, Callable, Iterator, TextIO

import httpx

from egactl import __version__
from egactl.errors import BUSY_HINT, EgactlError, InvalidInput, Unreachable, error_for_status

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 503})
REDACTED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-auth-request-hash", "proxy-authorization"})
MAX_RETRY_AFTER = 60.0


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


class ApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.25,
        debug: TextIO | None = None,
        on_mutation: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        url_source: str | None = None,
    ):
        headers = {"User-Agent": f"egactl/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {}
        if transport is not None:
            kwargs["transport"] = transport
        else:
            kwargs["verify"] = _ssl_context(verify)
            kwargs["limits"] = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            **kwargs,
        )
        self.retries = max(1, retries)
        self.last_outcome: str | None = None
        self.backoff = backoff
        self._debug = debug
        self._on_mutation = on_mutation
        self._sleep = sleep
        self._url_source = url_source
        """Where ``base_url`` came from (e.g. "env EGACTL_API_URL"), for the hint when it cannot be reached."""

    def close(self) -> None:
        self._http.close()

    # -- the one request path -------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        if_match: str | None = None,
        dry_run: bool = False,
        raise_for_status: bool = True,
    ) -> httpx.Response:
        method = method.upper()
        check_path(path)
        hdrs = dict(headers or {})
        if dry_run:  # the backend judges the change in full, then rolls it back
            hdrs["X-Dry-Run"] = "true"
        if method == "POST" and idempotency_key:
            hdrs["Idempotency-Key"] = idempotency_key
        if if_match:
            hdrs["If-Match"] = if_match
        retryable = method in IDEMPOTENT_METHODS or (method == "POST" and "Idempotency-Key" in hdrs)
        if method not in ("GET", "HEAD", "OPTIONS") and self._on_mutation:
            self._on_mutation()
        query: Any = [(k, item) for k, v in (params or {}).items() if v is not None
                      for item in (v if isinstance(v, (list, tuple)) else [v])]  # a list: the key repeated
        if "?" in path:  # httpx would drop a path's own query once params are given: keep both
            from urllib.parse import parse_qsl

            path, _, own = path.partition("?")
            query = parse_qsl(own, keep_blank_values=True) + query
        params = query or None
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False, default=str).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        request_id = str(uuid.uuid4())
        attempt = 0
        while True:
            attempt += 1
            hdrs["X-Request-ID"] = request_id if attempt == 1 else f"{request_id}.{attempt}"
            request = self._http.build_request(method, path, params=params, content=content, headers=hdrs)
            started = time.perf_counter()
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                self._trace(request, None, started, exc)
                if retryable and attempt < self.retries:
                    self._sleep(self._delay(attempt, None))
                    continue
                raise _unreachable(request, exc, self._url_source) from None
            _unbind(response)
            self._trace(request, response, started, None)
            if response.status_code in RETRY_STATUSES and retryable and attempt < self.retries:
                self._sleep(self._delay(attempt, response.headers.get("Retry-After")))
                continue
            if raise_for_status and response.status_code >= 400:
                raise problem_error(response)
            if method not in ("GET", "HEAD", "OPTIONS"):
                # "exists": a create found its object already there, as asked (nothing changed)
                self.last_outcome = response.headers.get("X-Egactl-Outcome")
            return response

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            seconds = _parse_retry_after(retry_after)
            if seconds is not None:
                return min(seconds, MAX_RETRY_AFTER)
        # Full jitter (AWS architecture blog): spreads a herd of retrying clients.
        return random.uniform(0, self.backoff * (2 ** (attempt - 1)))

    def _trace(self, request: httpx.Request, response: httpx.Response | None, started: float, exc: Exception | None) -> None:
        if self._debug is None:
            return
        ms = (time.perf_counter() - started) * 1000
        w = self._debug.write
        w(f"> {request.method} {request.url}\n")
        for name, value in request.headers.items():
            w(f"> {name}: {redact_header(name, value)}\n")
        if exc is not None:
            w(f"! {type(exc).__name__} after {ms:.0f} ms\n")
            return
        assert response is not None
        server = server_ms(response)
        took = f"{ms:.0f} ms" if server is None else f"{ms:.0f} ms; server {server:.1f} ms"
        w(f"< {response.status_code} {response.reason_phrase} ({took})\n")
        for name, value in response.headers.items():
            w(f"< {name}: {redact_header(name, value)}\n")

    # -- conveniences ----------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def get_with_etag(self, path: str) -> tuple[Any, str | None]:
        response = self.request("GET", path)
        return response.json(), response.headers.get("ETag")

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None,
             etag: str | None = None, dry_run: bool = False) -> Any:
        """A POST: always carries an Idempotency-Key, so it is safe to retry. ``etag``: a
        state change (suspend, approve...) of what we read, sent as If-Match (stale → 412, exit 5).
        ``dry_run``: the backend judges the change exactly as it would make it, answers as it
        would, and stores nothing (every mutation takes it)."""
        response = self.request("POST", path, json_body=body if body is not None else {},
                                idempotency_key=idempotency_key or new_idempotency_key(), if_match=etag,
                                dry_run=dry_run)
        return response.json() if response.content else None

    def patch(self, path: str, body: Any, *, etag: str | None = None, dry_run: bool = False) -> Any:
        return self.request("PATCH", path, json_body=body, if_match=etag, dry_run=dry_run).json()

    def update(self, path: str, changes: dict[str, Any], *, dry_run: bool = False) -> Any:
        """Read-modify-write guarded by the resource's ETag (412 → exit 5 if someone else changed it)."""
        _, etag = self.get_with_etag(path)
        return self.patch(path, changes, etag=etag, dry_run=dry_run)

    def delete(self, path: str, *, etag: str | None = None, dry_run: bool = False, **params: Any) -> Any:
        response = self.request("DELETE", path, params=params, if_match=etag, dry_run=dry_run)
        return response.json() if response.content else None

    def pages(self, path: str, *, limit: int | None = None, page_size: int = 100,
              listing: "Listing | None" = None, **params: Any) -> Iterator[list[dict]]:
        """Yield the items page by page, each fetched when the previous one has been taken;
        stop after ``limit`` items (None: all).

        ``listing``, if given, learns how many there are in all (the first page's
        ``X-Total-Count``), whether more items were left behind (``more``), and
        whether pages are still to come (``pages_left``)."""
        cursor = None
        seen = 0
        while True:
            size = page_size if limit is None else max(1, min(page_size, limit - seen))
            response = self.request("GET", path, params={"limit": size, "cursor": cursor, **params})
            page = response.json()
            if listing is not None and cursor is None:
                listing.learn(response.headers)
            items = page.get("items", [])
            cursor = page.get("next_cursor")
            if limit is not None and seen + len(items) >= limit:
                if listing is not None:
                    listing.more = bool(cursor) or seen + len(items) > limit
                    listing.pages_left = False
                yield items[:limit - seen]
                return
            seen += len(items)
            if listing is not None:
                listing.pages_left = bool(cursor)
            yield items
            if not cursor:
                return

    def paginate(self, path: str, *, limit: int | None = None, page_size: int = 100,
                 listing: "Listing | None" = None, **params: Any) -> Iterator[dict]:
        """Yield items across pages; stop after ``limit`` items (None: all). ``listing``: see :meth:`pages`."""
        for page in self.pages(path, limit=limit, page_size=page_size, listing=listing, **params):
            yield from page

    def list(self, path: str, *, limit: int | None = None, page_size: int = 100, **params: Any) -> "Listing":
        """Every item up to ``limit``, as a :class:`Listing` (a list that knows what it left out).

        Without a limit (``--all``) only the first page is fetched here (so a wrong filter or
        a refusal fails now, as before); the others are fetched when the listing is first
        used. ``render`` prints such a listing page by page as they arrive, keeping none of
        them (``Listing.pages``): memory stays that of a page however long the list; any
        other use (``len``, iteration, indexing, ``--query``) fetches the rest and keeps it,
        as a plain list would. ``page_size``: items asked for a request (the API's ``limit``)."""
        listing = Listing()
        pages = self.pages(path, limit=limit, page_size=page_size, listing=listing, **params)
        list.extend(listing, next(pages, []))
        if listing.pages_left and limit is None:
            listing._rest = pages
        else:
            for page in pages:
                list.extend(listing, page)
        return listing


class Listing(list):
    """A list of items as the API gave them, knowing whether more were left out
    (``more``) and how many there are in all (``total``; ``total_exact`` is False
    when the server stopped counting). The renderer tells people "showing 30 of
    1,204; --limit N or --all"; scripts see the plain list.

    A listing of every page (``ApiClient.list`` without a limit) holds the first page
    and fetches the others when first used: ``streaming`` is then true, and ``pages()``
    hands them over one at a time, keeping none (what ``render`` does for ``--all``).
    Any list operation before that fetches and keeps the rest first; after it, the
    listing is spent (using it again is a programming error, and says so).
    """

    more: bool = False
    total: int | None = None
    total_exact: bool = True
    pages_left: bool = False
    _rest: "Iterator[list[dict]] | None" = None
    _spent: bool = False

    @property
    def streaming(self) -> bool:
        """Pages are still to be fetched: ``pages()`` can print them without keeping them."""
        return self._rest is not None

    def pages(self) -> Iterator[list[dict]]:
        """The items page by page (the first already here, the others fetched as they are
        asked for), keeping none: afterwards the listing is spent. A listing that is not
        streaming gives itself as one page."""
        if self._rest is None:
            self._fill()
            yield list.copy(self)
            return
        rest, self._rest = self._rest, None
        first = list.copy(self)
        list.clear(self)
        self._spent = True
        yield first
        del first
        yield from rest

    def map(self, fn: Any) -> "Listing":
        """``fn`` applied to each item, as a Listing that still knows what was left out.
        A streaming listing maps page by page as they come (and hands its pages over to the new one)."""
        if self._spent:
            self._fill()  # says what went wrong
        mapped = Listing(fn(item) for item in list.__iter__(self))
        mapped.more, mapped.total, mapped.total_exact = self.more, self.total, self.total_exact
        if self._rest is not None:
            rest, self._rest = self._rest, None
            mapped._rest = ([fn(item) for item in page] for page in rest)
            list.clear(self)
            self._spent = True
        return mapped

    def _fill(self) -> None:
        """Fetch and keep every page still to come (any ordinary use of the list)."""
        if self._rest is not None:
            rest, self._rest = self._rest, None
            for page in rest:
                list.extend(self, page)
        elif self._spent:
            raise RuntimeError("this listing was printed (or mapped) page by page and kept nothing; "
                               "use it before rendering it, or render the mapped one")

    def __bool__(self) -> bool:
        # ``if not items``: an item already here answers it without fetching the rest
        if list.__len__(self):
            return True
        if self._rest is not None or self._spent:
            self._fill()
        return list.__len__(self) > 0

    def __radd__(self, other: Any) -> Any:
        # ``[...] + listing``: list's own + would read only the pages already here
        if not isinstance(other, list):
            return NotImplemented
        self._fill()
        return list(other) + list.copy(self)

    def learn(self, headers: Any) -> None:
        exact, at_least = headers.get("X-Total-Count"), headers.get("X-Total-Count-At-Least")
        if exact and exact.isdigit():
            self.total = int(exact)
        elif at_least and at_least.isdigit():
            self.total, self.total_exact = int(at_least), False


def _filled(name: str) -> Any:
    method = getattr(list, name)

    def use(self: Listing, *args: Any, **kwargs: Any) -> Any:
        self._fill()
        return method(self, *args, **kwargs)

    use.__name__ = use.__qualname__ = name
    use.__doc__ = method.__doc__
    return use


# Every use of a Listing as a list fetches the pages still to come first.
for _name in ("__iter__", "__len__", "__getitem__", "__contains__", "__reversed__", "__eq__", "__ne__", "__lt__",
              "__le__", "__gt__", "__ge__", "__add__", "__iadd__", "__mul__", "__rmul__", "__imul__", "__setitem__",
              "__delitem__", "__repr__", "__reduce_ex__", "append", "extend", "insert", "pop", "remove", "index",
              "count", "sort", "reverse", "copy", "clear"):
    setattr(Listing, _name, _filled(_name))
del _name


_APP_TIME = re.compile(r"(?:^|,)\s*app\s*;(?:[^,]*;)?\s*dur=([0-9.]+)")


def _unbind(response: httpx.Response) -> None:
    """Let a response be freed as soon as it is dropped. httpx (0.28) ties a response and
    its stream in a reference cycle (the stream records the response's elapsed time), so
    every response waited for the cyclic garbage collector: the bodies of a long ``--all``
    piled up between its rare full collections (55 pages of 1,000 opt-outs, 9 MB, at the
    end of 600k). The body is read by now (``send`` without ``stream=True``): the stream
    becomes the body itself."""
    response.stream = httpx.ByteStream(response.content)


def server_ms(response: httpx.Response) -> float | None:
    """The server's own time for the request (its ``Server-Timing: app;dur=<ms>``), if it says."""
    found = _APP_TIME.search(response.headers.get("server-timing", ""))
    try:
        return float(found.group(1)) if found else None
    except ValueError:
        return None


def check_path(path: str) -> None:
    """Refuse a path with an empty segment before anything is sent.

    Commands build paths from their arguments (``/api/v1/institutions/{code}``);
    an empty argument (``egactl institutions show ""``) would otherwise ask for
    another resource — the list, or a redirect — and fail obscurely. One check
    here covers every command of every plugin: "no institution given", exit 2.
    """
    from urllib.parse import unquote, urlsplit

    segments = urlsplit(path).path.split("/")
    for i, segment in enumerate(segments):
        if i == 0 and segment == "":
            continue  # the leading slash
        if not unquote(segment).strip():
            raise InvalidInput(f"no {_noun(segments[:i])} given",
                               hint="the argument naming it is empty")


_IRREGULAR = {"aliases": "alias", "addresses": "address", "statuses": "status"}


def _noun(before: list[str]) -> str:
    """What the empty segment should have named: the collection before it, singular."""
    from urllib.parse import unquote

    for segment in reversed(before):
        word = unquote(segment)
        if re.fullmatch(r"[a-z][a-z-]*s", word):
            if word in _IRREGULAR:
                return _IRREGULAR[word]
            if word.endswith("ies"):
                return word[:-3] + "y"
            if word.endswith(("sses", "xes", "ches", "shes")):
                return word[:-2]
            return word[:-1]
    return "value"


def redact_header(name: str, value: str) -> str:
    lower = name.lower()
    if lower in REDACTED_HEADERS or "token" in lower or "secret" in lower or lower.endswith("-key") and lower != "idempotency-key":
        if lower == "authorization" and " " in value:
            return value.split(" ", 1)[0] + " [REDACTED]"
        return "[REDACTED]"
    return value


def _parse_retry_after(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _ssl_context(verify: bool | str):
    if verify is True or verify is False:
        return verify
    from egactl.certificates import trusting

    return trusting(ca_file=verify)


def _unreachable(request: httpx.Request, exc: httpx.TransportError, url_source: str | None = None) -> EgactlError:
    url = request.url
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    host = f"{url.scheme}://{url.host}:{port}" if url.host else str(url)
    if isinstance(exc, httpx.TimeoutException):
        what = "timed out"
    elif isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        what = "TLS certificate verification failed"
    else:
        what = "could not be reached"
    detail = str(exc).strip()
    message = f"the API at {host} {what}" + (f" ({detail})" if detail else "")
    where = f"api_url (from {url_source})" if url_source else "the profile's api_url"
    return Unreachable(message, hint=f"check {where} and your network, or try again")


def problem_error(response: httpx.Response) -> EgactlError:
    """Turn an error response (problem+json or not) into the matching exception."""
    cls = error_for_status(response.status_code)
    problem: dict[str, Any] | None = None
    try:
        body = response.json()
        if isinstance(body, dict):
            problem = body
    except ValueError:
        pass
    if problem:
        message = problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}"
        errors = problem.get("errors") or []
        # The other field errors, once each: the one the detail already names is not repeated.
        parts = [part for e in errors[:5]
                 if (part := f"{e.get('field') or e.get('loc') or '?'}: {e.get('message') or e.get('msg')}") not in message
                 and str(e.get("message") or e.get("msg")) not in message]
        if parts:
            message = f"{message} ({'; '.join(parts)})"
    else:
        message = f"HTTP {response.status_code} {response.reason_phrase}"
    hint = None
    if response.status_code == 401:
        hint = "log in again with `egactl auth login`, or check EGACTL_TOKEN"
    elif response.status_code == 412:
        hint = "someone else changed it; show it again and retry"
    elif response.status_code == 503:
        hint = BUSY_HINT
    rid = response.request.headers.get("X-Request-ID") if response.request else None
    if cls.exit_code == 1 and rid:
        hint = f"request id {rid}"
    return cls(message, hint=hint, problem=problem)
