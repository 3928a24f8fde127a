"""The onboarding workflow: its states and every legal transition, in one table.

The backend is the authority (an illegal step is a 409); the commands use the
table only to word their help and to order the pipeline view.
"""

from __future__ import annotations

REQUESTED, APPROVED, PROVISIONED, ACTIVE, SUSPENDED, DECOMMISSIONED = (
    "requested", "approved", "provisioned", "active", "suspended", "decommissioned")

STATES = (REQUESTED, APPROVED, PROVISIONED, ACTIVE, SUSPENDED, DECOMMISSIONED)
OPEN_STATES = STATES[:-1]
"""States in which a site's request is still open (a site has at most one open request)."""

WITH_RESOURCES = (PROVISIONED, ACTIVE, SUSPENDED)
"""States in which the site holds a prefix and a VLAN."""

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "approve": ((REQUESTED,), APPROVED),
    "provision": ((APPROVED,), PROVISIONED),
    "activate": ((PROVISIONED,), ACTIVE),
    "suspend": ((ACTIVE,), SUSPENDED),
    "resume": ((SUSPENDED,), ACTIVE),
    "offboard": (OPEN_STATES, DECOMMISSIONED),
}
ACTIONS = tuple(TRANSITIONS)


class IllegalTransition(Exception):
    def __init__(self, action: str, state: str):
        sources = TRANSITIONS[action][0]
        super().__init__(f"cannot {action} a site that is {state} ({action} needs {' or '.join(sources)})")
        self.action, self.state = action, state


def next_state(action: str, state: str) -> str:
    """The state ``action`` leads to from ``state``; IllegalTransition if it may not."""
    if action not in TRANSITIONS:
        raise ValueError(f"unknown action {action!r}")
    sources, target = TRANSITIONS[action]
    if state not in sources:
        raise IllegalTransition(action, state)
    return target
