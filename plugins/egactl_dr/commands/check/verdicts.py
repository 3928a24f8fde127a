"""From observations to verdicts: pure functions, no network, no clock of their own.

Every check yields OK, WARNING, CRITICAL or UNKNOWN with a one-line reason.
UNKNOWN means "cannot tell" — the inventory does not say where to read a
value, a site did not answer so its version cannot be compared, or the run's
deadline came first — and it ranks above WARNING: readiness that cannot be
shown is not readiness. Thresholds come from the system (its overrides over
``rules.DEFAULT_THRESHOLDS``).

Checks, per system:

- ``primary.dns``, ``primary.reachability``, ``primary.tls`` (https and tls
  endpoints), the same for ``dr.`` — or ``dr.site`` when there is no DR site;
- ``version``: the DR site runs what the primary runs;
- ``replication``: the DR site's last-replicated time against the RPO;
- ``backup``: the last backup's age;
- ``drill``: days since the last passed failover drill (the backend's figure);
- ``hosting``: both sites in approved government hosting environments.

Each check may carry ``perf``: the figures a monitoring system graphs, with
the same thresholds the verdict used (see ``nagios``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from dataclasses import dataclass, field
from typing import Any

from egactl.plugin.cli import certificates
from egactl.plugin.rules import time_for_people
from egactl_dr.commands.check.probes import ReachObservation, SiteObservation, TlsObservation
from egactl_dr.rules import FieldSource, effective_thresholds, format_minutes, parse_field_source, worst

OK, WARNING, CRITICAL, UNKNOWN = "OK", "WARNING", "CRITICAL", "UNKNOWN"
CLOCK_SKEW = dt.timedelta(minutes=5)
PRIVATE_CA_HINT = ("if the system uses a private CA, give its CA certificate "
                   "(`egactl dr systems update --ca-bundle FILE` or `egactl dr check --ca-bundle FILE`)")


@dataclass
class Perf:
    """One perfdata figure: ``label=value[uom];warn;crit;min;max`` (ranges in monitoring-plugin syntax)."""

    label: str
    value: float
    uom: str = ""
    warn: str = ""
    crit: str = ""
    min: float | None = None
    max: float | None = None


@dataclass
class Check:
    check: str
    state: str
    reason: str
    perf: list[Perf] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "state": self.state, "reason": self.reason,
                "metrics": {p.label.rsplit(".", 1)[-1]: p.value for p in self.perf}}


@dataclass
class Observed:
    """What the run saw of one system; None for a site that was never probed or not finished."""

    primary: SiteObservation | None
    dr: SiteObservation | None
    backup: ReachObservation | None = None
    deadline_exceeded: bool = False


@dataclass
class SystemVerdict:
    system: dict[str, Any]
    checks: list[Check]

    @property
    def status(self) -> str:
        return worst([c.state for c in self.checks])

    def as_dict(self) -> dict[str, Any]:
        s = self.system
        return {"system": s["system"], "institution": s["institution"], "name": s["name"],
                "criticality": s.get("criticality"), "status": self.status,
                "checks": [c.as_dict() for c in self.checks]}


def evaluate(system: dict[str, Any], observed: Observed, *, now: dt.datetime, deadline: float,
             timeout: float | None = None) -> SystemVerdict:
    limits = effective_thresholds(system.get("thresholds"))
    if timeout is not None:
        limits["timeout_seconds"] = timeout
    late = f"not finished within the run's {deadline:g} s deadline"
    checks = site_checks("primary", observed.primary, limits, now, late)
    if system.get("dr_endpoint"):
        checks += site_checks("dr", observed.dr, limits, now, late)
    else:
        checks.append(Check("dr.site", CRITICAL, "no DR site registered"))
    checks.append(version_check(system, observed, limits, late))
    checks.append(replication_check(system, observed, limits, now, late))
    checks.append(backup_check(system, observed, limits, now, late))
    checks.append(drill_check(system, limits))
    checks.append(hosting_check(system))
    return SystemVerdict(system, checks)


# -- per site ----------------------------------------------------------------------------


def site_checks(site: str, obs: SiteObservation | None, limits: dict[str, Any], now: dt.datetime,
                late: str) -> list[Check]:
    if obs is None:
        return [Check(f"{site}.reachability", UNKNOWN, late)]
    checks = [dns_check(site, obs, late), reach_check(site, obs, limits, late)]
    if obs.endpoint.uses_tls:
        checks.append(tls_check(site, obs.tls, obs.endpoint.host, limits, now, late))
    return checks


def dns_check(site: str, obs: SiteObservation, late: str) -> Check:
    name = f"{site}.dns"
    d = obs.dns
    if d is None:
        return Check(name, UNKNOWN, late)
    if d.failure:
        return Check(name, CRITICAL, d.failure.message)
    if d.literal:
        return Check(name, OK, f"{d.host} is an IP address (no lookup needed)")
    if d.served_by:
        return Check(name, OK, f"{d.host} is served by {d.served_by} (no lookup needed)")
    shown = ", ".join(d.addresses[:3]) + (f" (+{len(d.addresses) - 3} more)" if len(d.addresses) > 3 else "")
    return Check(name, OK, f"{d.host} resolves to {shown}")


def reach_check(site: str, obs: SiteObservation, limits: dict[str, Any], late: str) -> Check:
    name = f"{site}.reachability"
    r = obs.reach
    if r is None:
        return Check(name, UNKNOWN, late)
    if r.failure:
        reason = r.failure.message
        if r.failure.kind == "tls-verify":
            reason = f"{'HTTPS' if r.kind == 'http' else 'TLS'} refused by certificate verification (see {site}.tls)"
        return Check(name, CRITICAL, reason)
    warn, crit = limits["response_warn_seconds"], limits["timeout_seconds"]
    perf = [Perf(f"{site}.time", round(r.elapsed, 4), "s", perf_number(warn), perf_number(crit), 0)]
    took = _took(r.elapsed)
    if r.kind in ("tcp", "tls"):
        state = WARNING if r.elapsed > warn else OK
        slow = f", slower than {warn:g} s" if state == WARNING else ""
        what = "TLS handshake" if r.kind == "tls" else "TCP connect"
        return Check(name, state, f"{what} in {took}{slow}", perf)
    status = r.status or 0
    if status >= 500:
        return Check(name, CRITICAL, f"HTTP {status} in {took}", perf)
    if status >= 400:
        return Check(name, WARNING, f"HTTP {status} in {took}: the site answers, but not as a health endpoint should", perf)
    if r.elapsed > warn:
        return Check(name, WARNING, f"HTTP {status} but slow: {took} (warning above {warn:g} s)", perf)
    return Check(name, OK, f"HTTP {status} in {took}", perf)


def tls_check(site: str, t: TlsObservation | None, host: str, limits: dict[str, Any], now: dt.datetime,
              late: str) -> Check:
    name = f"{site}.tls"
    if t is None:
        return Check(name, UNKNOWN, late)
    if t.failure:
        if t.failure.kind == "tls":
            return Check(name, CRITICAL, t.failure.message)
        return Check(name, UNKNOWN, f"not checked: {t.failure.message}")
    warn, crit = limits["cert_warn_days"], limits["cert_crit_days"]
    verdict = certificates.judge(t.seen(), host, now=now, warn_days=warn, crit_days=crit, untrusted_hint=PRIVATE_CA_HINT)
    perf = ([] if verdict.days is None else
            [Perf(f"{site}.cert_days", round(verdict.days, 2), "", f"{perf_number(warn)}:", f"{perf_number(crit)}:")])
    return Check(name, verdict.state, verdict.text, perf)


# -- reading health fields ------------------------------------------------------------------


def read_field(source: FieldSource, r: ReachObservation | None, where: str) -> tuple[Any, str | None]:
    """(value, None) or (None, why it could not be read)."""
    if r is None:
        return None, f"the {where} was not probed in time"
    if r.kind != "http":
        return None, f"the {where} is not an HTTP endpoint, so there is no response to read"
    if r.failure:
        return None, f"the {where} did not answer ({r.failure.message})"
    if r.status is None or r.status >= 400:
        return None, f"the {where} answered HTTP {r.status}"
    if source.kind == "header":
        value = r.headers.get(source.path.lower())
        if value is None or not value.strip():
            return None, f"the {where} sent no {source.path} header"
        return value.strip(), None
    try:
        data: Any = json.loads(r.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None, f"the {where}'s response is not JSON"
    for part in source.path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None, f"the {where}'s response has no field {source.path!r}"
    if data is None or isinstance(data, (dict, list)):
        return None, f"the {where}'s field {source.path!r} is {'empty' if data is None else 'not a value'}"
    return data, None


def parse_timestamp(value: Any) -> dt.datetime | None:
    """ISO 8601, Unix seconds (or milliseconds), or an HTTP date; naive times are UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().replace(".", "", 1).isdigit()):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        try:
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _source(system: dict[str, Any], key: str) -> FieldSource | None:
    raw = system.get(key)
    return parse_field_source(raw) if raw else None


def _timed_field(system, key, r, where, now, label) -> tuple[float | None, Check | None]:
    """Age in minutes of a timestamp field, or the UNKNOWN check saying why there is none."""
    source = _source(system, key)
    value, why = read_field(source, r, where)
    if why:
        return None, Check(label, UNKNOWN, f"cannot read {source.describe()}: {why}")
    when = parse_timestamp(value)
    if when is None:
        return None, Check(label, UNKNOWN, f"{source.describe()} at the {where} is {value!r}, not a time")
    return (now - when).total_seconds() / 60, None


# -- system-wide checks -------------------------------------------------------------------


def version_check(system: dict[str, Any], observed: Observed, limits: dict[str, Any], late: str) -> Check:
    name = "version"
    source = _source(system, "version_from")
    if source is None:
        return Check(name, UNKNOWN, "no version source configured (systems update --version-from)")
    if not system.get("dr_endpoint"):
        return Check(name, UNKNOWN, "no DR site to compare with")
    values = {}
    for site, obs in (("primary", observed.primary), ("DR", observed.dr)):
        value, why = read_field(source, obs.reach if obs else None, f"{site} site")
        if why:
            return Check(name, UNKNOWN, f"cannot read the {site} version ({source.describe()}): {why}")
        values[site] = str(value).strip()
    if values["primary"] == values["DR"]:
        return Check(name, OK, f"both sites run {values['primary']}")
    state = WARNING if limits["version_mismatch"] == "warning" else CRITICAL
    return Check(name, state, f"the DR site runs {values['DR']}, the primary runs {values['primary']}")


def replication_check(system: dict[str, Any], observed: Observed, limits: dict[str, Any], now: dt.datetime,
                      late: str) -> Check:
    name = "replication"
    if not system.get("replicated_from"):
        return Check(name, UNKNOWN, "no last-replicated source configured (systems update --replicated-from)")
    if not system.get("dr_endpoint"):
        return Check(name, UNKNOWN, "no DR site to replicate to")
    lag, unknown = _timed_field(system, "replicated_from", observed.dr.reach if observed.dr else None,
                                "DR site", now, name)
    if unknown:
        return unknown
    assert lag is not None
    rpo = float(system["rpo_minutes"])
    pct = float(limits["replication_warn_pct"])
    warn_at = rpo * pct / 100
    perf = [Perf("replication_lag", round(max(lag, 0) * 60, 1), "s", perf_number(warn_at * 60), perf_number(rpo * 60), 0)]
    if lag < -CLOCK_SKEW.total_seconds() / 60:
        return Check(name, WARNING, f"the DR site reports replication {format_minutes(-lag)} in the future; "
                                    "check the clocks", perf)
    lag = max(lag, 0)
    if lag > rpo:
        return Check(name, CRITICAL, f"last replicated {format_minutes(lag)} ago, beyond the RPO of "
                                     f"{format_minutes(rpo)}", perf)
    if lag > warn_at:
        return Check(name, WARNING, f"last replicated {format_minutes(lag)} ago, {lag / rpo:.0%} of the RPO of "
                                    f"{format_minutes(rpo)}", perf)
    return Check(name, OK, f"last replicated {format_minutes(lag)} ago (RPO {format_minutes(rpo)})", perf)


def backup_check(system: dict[str, Any], observed: Observed, limits: dict[str, Any], now: dt.datetime,
                 late: str) -> Check:
    name = "backup"
    if not system.get("backup_from"):
        return Check(name, UNKNOWN, "no backup source configured (systems update --backup-from)")
    if system.get("backup_url") and system["backup_url"] != system.get("primary_endpoint"):
        r, where = observed.backup, "backup status endpoint"
    else:
        r, where = (observed.primary.reach if observed.primary else None), "primary site"
    age, unknown = _timed_field(system, "backup_from", r, where, now, name)
    if unknown:
        return unknown
    assert age is not None
    age = max(age, 0)
    warn_h, crit_h = float(limits["backup_warn_hours"]), float(limits["backup_crit_hours"])
    perf = [Perf("backup_age", round(age * 60), "s", perf_number(warn_h * 3600), perf_number(crit_h * 3600), 0)]
    if age > crit_h * 60:
        return Check(name, CRITICAL, f"last backup {format_minutes(age)} ago, beyond {crit_h:g} h", perf)
    if age > warn_h * 60:
        return Check(name, WARNING, f"last backup {format_minutes(age)} ago, beyond {warn_h:g} h", perf)
    return Check(name, OK, f"last backup {format_minutes(age)} ago", perf)


def drill_check(system: dict[str, Any], limits: dict[str, Any]) -> Check:
    name = "drill"
    days = system.get("days_since_successful_drill")
    running = system.get("drill_running_since")
    note = f"; a drill is in progress since {time_for_people(running)}" if running else ""
    if days is None:
        return Check(name, CRITICAL, "no successful failover drill on record" + note)
    warn, crit = limits["drill_warn_days"], limits["drill_crit_days"]
    perf = [Perf("drill_age", days, "", perf_number(warn), perf_number(crit), 0)]
    when = time_for_people(system.get("last_successful_drill_at"))
    if days > crit:
        return Check(name, CRITICAL, f"last successful drill {_days(days)} ago ({when}); due every {crit} days{note}",
                     perf)
    if days > warn:
        return Check(name, WARNING, f"last successful drill {_days(days)} ago ({when}); due within "
                                    f"{_days(crit - days)}{note}", perf)
    ago = "today" if days == 0 else f"{_days(days)} ago"
    return Check(name, OK, f"last successful drill {ago} ({when}){note}", perf)


def hosting_check(system: dict[str, Any]) -> Check:
    name = "hosting"
    problems, unknown = [], []
    if system.get("hosting_approved") is False:
        problems.append(f"the primary site is in {system['hosting']!r}, not an approved hosting environment")
    if system.get("dr_endpoint"):
        if not system.get("dr_hosting"):
            unknown.append("the DR site's hosting environment is not recorded (systems update --dr-hosting)")
        elif system.get("dr_hosting_approved") is False:
            problems.append(f"the DR site is in {system['dr_hosting']!r}, not an approved hosting environment")
    if problems:
        return Check(name, CRITICAL, "; ".join(problems + unknown))
    if unknown:
        return Check(name, UNKNOWN, "; ".join(unknown))
    places = [system["hosting"]] + ([system["dr_hosting"]] if system.get("dr_endpoint") else [])
    return Check(name, OK, f"{' and '.join(places)}: approved")


# -- formatting ---------------------------------------------------------------------------


def perf_number(value: float) -> str:
    """A number in the C locale, no exponent: perfdata values are [-0-9.]."""
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _took(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _days(n: float) -> str:
    n = int(n)
    return "1 day" if n == 1 else f"{n} days"
