"""The mailbox lifecycle: one state machine, used by the backend to enforce it
and by the commands and docs to describe it.

::

    create ─▶ active ──suspend──▶ suspended
                 ▲  ◀──restore───     │
                 │                    │
              delete               delete
                 ▼                    ▼
                deleted (address retained) ──undelete──▶ the state it had before
                   │
                 purge (only after the retention period)
                   ▼
                 purged (address released, personal data erased)

What each state means for the person and for mail sent to them:

=========  =======  ==================  ==================================
state      login    incoming mail       address
=========  =======  ==================  ==================================
active     yes      delivered           in use
suspended  no       still delivered     in use
deleted    no       bounced             retained: nobody else may take it
purged     no       bounced             released: may be given out again
=========  =======  ==================  ==================================

Any other move is illegal and the backend answers 409 (exit 5).
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIVE, SUSPENDED, DELETED, PURGED = "active", "suspended", "deleted", "purged"
STATES = (ACTIVE, SUSPENDED, DELETED, PURGED)

# What login and delivery look like in each state (shown by `mail show`).
LOGIN = {ACTIVE: True, SUSPENDED: False, DELETED: False, PURGED: False}
DELIVERY = {ACTIVE: "delivered", SUSPENDED: "delivered", DELETED: "bounced", PURGED: "bounced"}

PREVIOUS = "(the state before delete)"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    """A state, or PREVIOUS for undelete."""
    summary: str


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("suspend", (ACTIVE,), SUSPENDED, "login off; mail still delivered"),
    Transition("restore", (SUSPENDED,), ACTIVE, "login on again"),
    Transition("delete", (ACTIVE, SUSPENDED), DELETED, "login off, mail bounced, address retained"),
    Transition("undelete", (DELETED,), PREVIOUS, "within the retention period: back as it was"),
    Transition("purge", (DELETED,), PURGED, "after the retention period: address released, data erased"),
)}

# Changes that are not transitions, and the states in which they make sense.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "update": (ACTIVE, SUSPENDED),
    "quota": (ACTIVE, SUSPENDED),
    "reset-password": (ACTIVE, SUSPENDED),
    "alias": (ACTIVE, SUSPENDED),
    "move": (ACTIVE, SUSPENDED),
}


class IllegalTransition(Exception):
    """The move is not allowed from the current state (the backend answers 409)."""


def target(status: str, action: str, *, previous: str | None = None) -> str:
    """The state after ``action`` from ``status``; raises ``IllegalTransition``.

    ``previous`` is the state recorded at delete, where undelete returns to.
    """
    t = TRANSITIONS.get(action)
    if t is None:
        raise ValueError(f"unknown lifecycle action {action!r}")
    if status not in t.sources:
        raise IllegalTransition(_refusal(status, action, t.sources))
    if t.target == PREVIOUS:
        return previous if previous in (ACTIVE, SUSPENDED) else ACTIVE
    return t.target


def check_operation(status: str, operation: str) -> None:
    """Raise ``IllegalTransition`` if ``operation`` is not allowed in ``status``."""
    allowed = OPERATIONS[operation]
    if status not in allowed:
        raise IllegalTransition(f"cannot {operation.replace('-', ' ')} a {status} mailbox "
                                f"(only {' or '.join(allowed)} mailboxes)")


def _refusal(status: str, action: str, sources: tuple[str, ...]) -> str:
    if TRANSITIONS[action].target == status:
        return f"it is already {status}"
    return f"it is {status}; {action} applies only to {' or '.join(sources)} mailboxes"
