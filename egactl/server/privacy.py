"""Personal data: the subject of a request, and pseudonyms (keyed hashes) of personal values.

A pseudonym is ``~`` and 15 base32 letters of HMAC-SHA256(the server's key, the
value): the same value always gives the same pseudonym (an opt-out kept as a
pseudonym still blocks sends to that number; counts per number stay right),
and it fits every column that held a phone number (16 characters). Without
the key, which never leaves the server, a pseudonym cannot be turned back into
a number by trying every Tanzanian number. The key is
``EGACTL_PRIVACY_SECRET`` if set (every server of a cluster must then share
it), else made on first use and kept in the database (``core_secrets``), so
every ``serve`` process on one database agrees.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from egactl.plugin.rules import RuleError
from egactl.server.models import ServerSecret

KEY_NAME = "privacy-pseudonym-key"
PREFIX = "~"
LENGTH = 16
SIGNIFICANT = 10
"""Bytes of the digest that make the pseudonym's 15 base32 letters."""


def is_pseudonym(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX) and len(value) == LENGTH


def _key(session: Any) -> bytes:
    """The key, cached per database once it is known to be stored there: a key made in a
    transaction that then rolls back (a dry run, a failed request) must not outlive it, or
    pseudonyms made with it would match nothing after a restart."""
    configured = os.environ.get("EGACTL_PRIVACY_SECRET")
    if configured:
        return configured.encode("utf-8")
    bind = session.get_bind()
    database = id(bind)
    cached = _keys.get(database)
    if cached is not None and cached[0] is bind:
        return cached[1]
    made_here = session.info.get(KEY_NAME)
    if made_here is not None:  # made earlier in this transaction, not committed yet
        return made_here
    row = session.get(ServerSecret, KEY_NAME)
    if row is None:
        from egactl.server.scope import backend

        made = ServerSecret(name=KEY_NAME, value=secrets.token_hex(32), created_at=_now(backend))
        try:
            with session.begin_nested():
                session.add(made)
        except IntegrityError:  # another process made it first: use theirs
            row = session.scalar(select(ServerSecret).where(ServerSecret.name == KEY_NAME))
        else:
            key = made.value.encode("utf-8")
            session.info[KEY_NAME] = key

            open_ = [True]  # (listeners cannot be removed while the session dispatches them)

            def stored(s: Any) -> None:  # the transaction that made it committed: it is the key
                if open_[0]:
                    _keys[database] = (bind, key)

            def ended(s: Any, transaction: Any) -> None:  # committed or not, that transaction is over
                if open_[0] and transaction.parent is None:
                    open_[0] = False
                    s.info.pop(KEY_NAME, None)

            event.listen(session, "after_commit", stored)
            event.listen(session, "after_transaction_end", ended)
            return key
    key = row.value.encode("utf-8")
    _keys[database] = (bind, key)
    return key


def _now(backend: Any) -> Any:
    try:
        return backend().now()
    except LookupError:  # outside a request (a worker): the row's time matters little
        import datetime as dt

        return dt.datetime.fromtimestamp(0, dt.timezone.utc)


_keys: dict[int, tuple[Any, bytes]] = {}
"""Per database engine (held, so its id is not reused by another): its key, once known to be stored."""


def pseudonym(value: str, session: Any = None) -> str:
    """The keyed hash of a personal value (a phone number, an employee number): ``~`` and 15 letters.

    In a request leave ``session`` out; a worker passes its own. A value that is
    already a pseudonym is returned as it is."""
    if is_pseudonym(value):
        return value
    if session is None:
        from egactl.server.scope import db

        session = db()
    digest = hmac.digest(_key(session), value.encode("utf-8"), hashlib.sha256)
    # base32 writes each 5 bytes as 8 letters: the first 10 bytes give the 15 letters kept (a
    # send checks thousands of numbers against opt-outs; encoding all 32 bytes costs 3 times more)
    return PREFIX + base64.b32encode(digest[:SIGNIFICANT]).decode("ascii").lower()[:LENGTH - 1]


@dataclass(frozen=True)
class Subject:
    """The person a privacy request is about, known by a phone number or an employee number."""

    text: str
    """As the caller typed it."""
    phone: str | None
    """E.164, when the subject is a phone number."""
    employee_number: str | None
    """When the subject is an employee (HCMIS check) number."""
    pseudonym: str
    """The keyed hash of the phone or employee number: what erasure leaves in its place."""

    @property
    def value(self) -> str:
        return self.phone or self.employee_number or self.text


def subject_of(text: str, session: Any = None) -> Subject:
    """A phone number in any accepted form, or an employee number (digits); RuleError otherwise."""
    from egactl.server.find import phone_number

    text = (text or "").strip()
    phone = phone_number(text) if text else None
    employee = None
    if phone is None:
        if not (text.isascii() and text.isalnum() and 3 <= len(text) <= 32):
            raise RuleError(f"{text!r} is neither a phone number nor an employee number")
        employee = text.upper()
    return Subject(text=text, phone=phone, employee_number=employee, pseudonym=pseudonym(phone or employee, session))


_also: contextvars.ContextVar[list[tuple[str, bool]] | None] = contextvars.ContextVar("egactl_privacy_also",
                                                                                    default=None)


def also_named(*values: str | None, identifying: bool = True) -> None:
    """During an erasure: the subject is also named by these values on a record just erased (a
    contact's e-mail address and name beside the number). The core pseudonymises them in the
    audit log as it does the subject's number, so no entry written before still names the person.

    ``identifying`` values (an e-mail address) single the person out: every entry holding one
    is rewritten. Others (a name: other people share it) are rewritten only in the entries that
    already name the person by an identifying value, never across the whole log."""
    collected = _also.get()
    if collected is None:
        raise RuntimeError("also_named() is for a Privacy.erase hook, during an erasure")
    collected.extend((v.strip(), identifying) for v in values if v and len(v.strip()) >= 3)


def collecting_also_named() -> contextvars.Token:
    return _also.set([])


def collected_also_named(token: contextvars.Token) -> tuple[list[str], list[str]]:
    """(identifying values, values replaced only beside them), each longest first ("Asha Said" before "Asha")."""
    values = _also.get() or []
    _also.reset(token)
    identifying = {v for v, ident in values if ident}
    beside = {v for v, ident in values if not ident} - identifying
    by_length = lambda vs: sorted(vs, key=len, reverse=True)  # noqa: E731
    return by_length(identifying), by_length(beside)
