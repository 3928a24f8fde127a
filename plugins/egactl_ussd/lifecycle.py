"""The life of a code, as one table.

The backend enforces it (the only authority); the commands read it to say what
a ``--dry-run`` would do. Keeping the table here, and only here, means the
documentation, the dry runs and the server can never disagree.

::

    available ──reserve──▶ reserved ──assign──▶ assigned ◀──resume── suspended
        │                     │                   │  └──suspend──▶──┘   │
        └───────assign────────┼──────────────────▶┘                      │
                              │                   release          release
                       release (never live:       ▼                      ▼
                        straight back)          released ◀───────────────┘
                              ▼                   │ quarantine ends (time)
                          available ◀─────────────┘

A released code is not handed on at once: it stays ``released`` for the
quarantine period (90 days by default), so that a citizen dialling an old
code never lands in another institution's service. When the period ends the
code is ``available`` again; no one has to act.

A reserved code that is released was never provisioned on any network, so no
citizen can have learnt it: it goes straight back to ``available``.
"""

from __future__ import annotations

STATES = ("available", "reserved", "assigned", "suspended", "released")

ACTIONS = ("reserve", "assign", "suspend", "resume", "release")

TRANSITIONS: dict[tuple[str, str], str] = {
    ("reserve", "available"): "reserved",
    ("assign", "available"): "assigned",
    ("assign", "reserved"): "assigned",
    ("suspend", "assigned"): "suspended",
    ("resume", "suspended"): "assigned",
    ("release", "assigned"): "released",
    ("release", "suspended"): "released",
    ("release", "reserved"): "available",
}
"""(action, current state) → next state. Anything not listed is illegal."""

UPDATABLE = frozenset({"reserved", "assigned", "suspended"})
"""States in which the holder may change the service name, purpose or callback URL."""

PROVISIONED = frozenset({"assigned", "suspended"})
"""States in which a code is (or is being) provisioned on the mobile networks."""

HELD = frozenset({"reserved", "assigned", "suspended", "released"})
"""States in which a code belongs to an institution (released: until its quarantine ends)."""


def next_state(action: str, state: str) -> str | None:
    """The state ``action`` leads to from ``state``, or None if it is not allowed."""
    return TRANSITIONS.get((action, state))


def allowed_from(action: str) -> list[str]:
    """The states ``action`` may start from, in lifecycle order."""
    return [s for s in STATES if (action, s) in TRANSITIONS]


def refusal(action: str, code: str, state: str) -> str:
    """The one line a user reads when ``action`` is illegal in ``state``."""
    allowed = allowed_from(action)
    needs = " or ".join(allowed)
    return f"cannot {action} {code}: it is {state} (only a code that is {needs} can be {past_tense(action)})"


def past_tense(action: str) -> str:
    return {"reserve": "reserved", "assign": "assigned", "suspend": "suspended", "resume": "resumed",
            "release": "released"}[action]
