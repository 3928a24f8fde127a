"""``egactl find`` in the USSD registry: a code in any form people give it → who holds it.

``*152*07#``, ``152*07``, ``07``, ``7`` (the forms every ``egactl ussd`` command
takes) and what a subscriber dialled with menu choices (``*152*07*1#``) name
code 07: one primary-key read, with its networks. The registry is public to
every role (``ussd list``/``show`` answer operators for any code), and it holds
no personal data, so nothing is scoped or masked here that those routes do not.
"""

from __future__ import annotations

from egactl.plugin.rules import RuleError, time_for_people
from egactl.plugin.server import Found, Term, db
from egactl_ussd import rules
from egactl_ussd.server import service
from egactl_ussd.server.models import UssdCode

EXACT, DIALLED, BARE = 100, 90, 70
"""The full form (``*152*07#``, ``152*07``) is certainly a code; a dialled string with
menu choices almost; bare digits (``07``) may as well be something else."""


def _number(text: str) -> tuple[int, int] | None:
    """(code number, rank) of ``text``, or None when it is no form of a code."""
    try:
        number = rules.parse_code(text)
    except RuleError:
        try:
            return rules.parse_dialled(text), DIALLED
        except RuleError:
            return None
    return number, (BARE if text.strip().isdigit() else EXACT)


def summary(data: dict) -> str:
    """One line from the code as ``ussd show`` serialises it (``service.serialize``)."""
    state = data["state"]
    if state == "available":
        return "available: no institution holds it"
    parts = [data["institution"] or "", data.get("service_name") or data.get("application_reference") or "", state]
    if state == "released":
        parts[-1] = f"released, in quarantine until {time_for_people(data['quarantine_until'])}"
    networks = rules.networks_summary(data["networks"])
    if networks:
        parts.append(networks)
    return " · ".join(p for p in parts if p)


def find(term: Term, limit: int) -> list[Found]:
    read = _number(term.text)
    if read is None or limit < 1:
        return []
    number, rank = read
    row = db().get(UssdCode, number)
    if row is None:  # every code exists from the start; a database without them answers nothing
        return []
    data = service.serialize(row)
    return [Found(kind="code", reference=data["code"], summary=summary(data),
                  command=f"egactl ussd show {data['number']}",
                  institution=data["institution"], rank=rank)]
