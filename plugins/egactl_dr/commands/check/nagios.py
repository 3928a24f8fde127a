"""`egactl dr check --nagios`: output and exit code by the monitoring-plugin rules
(Nagios, Icinga, Naemon, Zabbix's and Prometheus's Nagios bridges).

    DR CRITICAL - 1 critical, 1 warning of 3 systems: RITA/crvs dr.tls certificate expired … | 'systems'=3;;;0 …
    RITA/crvs CRITICAL: dr.tls CRITICAL certificate expired 2 days ago; …
    TRA/idras WARNING: …
    NIDA/nin OK | 'RITA/crvs primary.time'=0.012s;2;5;0 …
    'TRA/idras primary.time'=0.020s;2;5;0 …

The first line is the status and the estate's totals as perfdata; then one
line per system (long text); the last long-text line starts the per-system
perfdata after ``|``, continued one system a line. Exit 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN — and UNKNOWN when the run's own deadline passed.
"""

from __future__ import annotations

from egactl_dr.commands.check.verdicts import Perf, SystemVerdict, perf_number
from egactl_dr.rules import NAGIOS_EXIT, SEVERITY

SHOWN_IN_STATUS = 3


def label(text: str) -> str:
    """A perfdata label: always quoted; ``'`` and ``=`` are not allowed inside, so they become ``_``."""
    return "'" + text.replace("'", "_").replace("=", "_") + "'"


def perf_item(name: str, p: Perf) -> str:
    fields = [p.warn, p.crit, "" if p.min is None else perf_number(p.min), "" if p.max is None else perf_number(p.max)]
    while fields and fields[-1] == "":
        fields.pop()  # trailing unfilled semicolons can be dropped
    return f"{label(name)}={perf_number(p.value)}{p.uom}" + "".join(f";{f}" for f in fields)


def clean(text: str) -> str:
    """Plugin output may not contain '|' (it starts perfdata) or line breaks."""
    return " ".join(text.replace("|", "/").split())


def output(verdicts: list[SystemVerdict], *, status: str, deadline_exceeded: bool, deadline: float,
           unfinished: int = 0, notes: list[str] | None = None) -> tuple[str, int]:
    """The whole plugin output and its exit code."""
    counts = {s: 0 for s in ("CRITICAL", "WARNING", "UNKNOWN", "OK")}
    for v in verdicts:
        counts[v.status] += 1
    total = len(verdicts)
    summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n and s != "OK")
    problems = sorted((v for v in verdicts if v.status != "OK"), key=lambda v: -SEVERITY[v.status])
    if deadline_exceeded:
        text = f"run exceeded its {deadline:g} s deadline ({unfinished} probe(s) unfinished)"
        if summary:
            text += f"; so far {summary} of {total} systems"
    elif not verdicts:
        text = "no DR systems match the selection"
    elif not problems:
        text = f"{total} system{'s' if total != 1 else ''} ready, all checks OK"
    else:
        text = f"{summary} of {total} systems"
    if problems:
        shown = []
        for v in problems[:SHOWN_IN_STATUS]:
            worst = max(v.checks, key=lambda c: SEVERITY[c.state])
            shown.append(f"{v.system['system']} {worst.check} {worst.reason}")
        text += ": " + "; ".join(shown) + (f" (+{len(problems) - SHOWN_IN_STATUS} more)" if len(problems) > SHOWN_IN_STATUS else "")
    totals = [perf_item("systems", Perf("systems", total, min=0))]
    totals += [perf_item(s.lower(), Perf(s.lower(), counts[s], min=0)) for s in ("OK", "WARNING", "CRITICAL", "UNKNOWN")]
    lines = [f"DR {status} - {clean(text)} | {' '.join(totals)}"]

    long_text = []
    for v in verdicts:
        bad = [c for c in v.checks if c.state != "OK"]
        detail = "; ".join(f"{c.check} {c.state} {c.reason}" for c in bad) if bad else "all checks OK"
        long_text.append(clean(f"{v.system['system']} {v.status}: {detail}"))
    long_text += [clean(n) for n in notes or []]
    per_system = []
    for v in verdicts:
        items = [perf_item(f"{v.system['system']} {p.label}", p) for c in v.checks for p in c.perf]
        if items:
            per_system.append(" ".join(items))
    if long_text and per_system:
        long_text[-1] += " | " + per_system[0]
        lines += long_text + per_system[1:]
    else:
        lines += long_text
    return "\n".join(lines) + "\n", NAGIOS_EXIT[status]
