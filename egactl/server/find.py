"""``egactl find``: what a term is, and every plugin's answer to it, asked in parallel.

The core recognises what a term can be (a :class:`Term`: a phone number, an
e-mail address, an IPv4 address or prefix, a host, a number, a name, a code)
once, so that every plugin reads it the same way. Each backend part that
declares ``find`` is then asked on a thread of its own, in a read-only request
scope of its own (its own session; ``principal()``, ``visible()`` and the
masking of its read routes work as in any route), and answers a list of
:class:`Found`. A part that fails or does not answer in time is named in the
answer's ``unavailable``, never silently left out.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import ipaddress
import logging
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from egactl.plugin.rules import RuleError, name_tokens, normalise_msisdn, normalise_phone

log = logging.getLogger("egactl.server")

TIMEOUT_SECONDS = 5.0
"""A part that has not answered by then is reported unavailable (setting ``find.timeout``)."""

MAX_TERM = 200


@dataclass(frozen=True)
class Term:
    """What a search term can be; a plugin answers the readings it knows about."""

    text: str
    """As typed, without surrounding spaces."""
    phone: str | None = None
    """E.164 (``+255754123456``) when the text is a phone number in any accepted form."""
    email: str | None = None
    """Lower-cased, when the text is an e-mail address."""
    ip: ipaddress.IPv4Network | None = None
    """An IPv4 prefix; an address is its /32."""
    host: str | None = None
    """Lower-cased host name: of a URL, or a dotted name such as ``crvs.rita.go.tz``."""
    digits: str | None = None
    """The text when it is digits only (an employee number, part of a USSD code)."""
    words: tuple[str, ...] = ()
    """The name words of the text (``egactl.plugin.rules.name_tokens``), when it can be a name."""
    code: str | None = None
    """Upper-cased, when the text can be a code: an institution, a sender ID, a circuit."""

    @property
    def kinds(self) -> list[str]:
        """The readings found, for the answer: ``["phone", "digits"]``…"""
        names = ("phone", "email", "ip", "host", "digits", "words", "code")
        return [n for n in names if getattr(self, n)]


@dataclass
class Found:
    """One result: what it is, how to name it, a line about it, and the command that shows more."""

    kind: str
    """What was found, a singular noun: ``message``, ``mailbox``, ``site``…"""
    reference: str
    """How commands name it (``+255754***456``, ``juma.mrisho@tra.go.tz``, ``*152*07#``)."""
    summary: str
    """One line, already masked as the caller may see it."""
    command: str
    """The command that shows more, e.g. ``egactl mail show juma.mrisho@tra.go.tz``."""
    institution: str | None = None
    rank: int = 50
    """100 for an exact match of the whole term, lower for a partial one; results are sorted by it."""
    service: str = ""
    """Filled in by the core: the plugin's name (``institutions`` for the core's own results)."""


_PHONE_CHARS = re.compile(r"^\+?[\d\s().-]{9,20}$")
_DOTTED_QUAD = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")
_HOST = re.compile(r"^(?=.*[a-z])[a-z0-9-]+(\.[a-z0-9-]+)+\.?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def phone_number(text: str) -> str | None:
    """``text`` as a phone number in E.164, if it is one in any accepted form: a mobile
    number (``normalise_msisdn``), else any valid number (``normalise_phone``)."""
    for rule in (normalise_msisdn, normalise_phone):
        try:
            return rule(text)
        except RuleError:
            continue
    return None


def recognise(text: str) -> Term:
    """Every reading of ``text`` (one term may have several: ``0754123456`` is a phone number and digits)."""
    text = text.strip()
    lower = text.lower()
    phone = phone_number(text) if _PHONE_CHARS.match(text) else None
    email = lower if _EMAIL.match(text) else None
    ip = None
    if _DOTTED_QUAD.match(text):
        try:
            ip = ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            ip = None
    host = None
    if "://" in text:
        try:
            host = (urlsplit(text).hostname or "").rstrip(".") or None
        except ValueError:
            host = None
    elif not email and not ip and _HOST.match(lower):
        host = lower.rstrip(".")
    digits = text if text.isascii() and text.isdigit() else None
    can_be_name = any(c.isalpha() for c in text) and not (email or host or ip or phone or "://" in text)
    words = tuple(name_tokens(text)) if can_be_name else ()
    code = text.upper() if _CODE.match(text) and not ip else None
    return Term(text=text, phone=phone, email=email, ip=ip, host=host, digits=digits, words=words, code=code)


Finder = Callable[[Term, int], "list[Found]"]

_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="egactl-find")
    return _pool


def ask_all(finders: dict[str, Finder], term: Term, limit: int, *, timeout: float = TIMEOUT_SECONDS,
            ) -> tuple[list[Found], list[dict[str, str]]]:
    """Ask every finder at once, each in a read scope of its own; (results ranked, parts that failed)."""
    from egactl.server.scope import Scope, _scope, current

    outer = current()

    def one(name: str, finder: Finder) -> list[Found]:
        scope = Scope(outer.backend, outer.request_id, False, principal=outer.principal)

        def run() -> list[Found]:
            token = _scope.set(scope)
            try:
                found = list(finder(term, limit))[:limit]
            finally:
                scope.close()
                _scope.reset(token)
            for f in found:
                f.service = name
            return found

        return contextvars.Context().run(run)

    futures = {_executor().submit(one, name, finder): name for name, finder in finders.items()}
    done, late = concurrent.futures.wait(futures, timeout=timeout)
    results: list[Found] = []
    unavailable: list[dict[str, str]] = []
    for future in done:
        name = futures[future]
        try:
            results.extend(future.result())
        except Exception as exc:
            from egactl.server.problems import Problem

            if isinstance(exc, Problem) and exc.status in (403, 404):
                continue  # nothing the caller may see there
            log.exception("find: the %s part failed", name)
            unavailable.append({"service": name, "reason": "failed; the server log has the details"})
    for future in late:
        future.cancel()
        unavailable.append({"service": futures[future], "reason": f"did not answer within {timeout:g} s"})
    return rank(results), sorted(unavailable, key=lambda u: u["service"])


def rank(results: list[Found]) -> list[Found]:
    """Grouped by service (the service with the best match first), best match first within each."""
    best: dict[str, int] = {}
    for f in results:
        best[f.service] = max(best.get(f.service, 0), f.rank)
    return sorted(results, key=lambda f: (-best[f.service], f.service, -f.rank, f.kind, f.reference))


def as_dict(found: Found) -> dict[str, Any]:
    data = asdict(found)
    return {k: data[k] for k in ("service", "kind", "reference", "summary", "command", "institution", "rank")}


__all__ = ["Found", "Term", "ask_all", "as_dict", "rank", "recognise"]
