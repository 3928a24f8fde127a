"""The onboarding workflow: onboard, then approve, provision, activate; suspend, resume, offboard.

Each step names a site (or a request number), reads the request with its ETag
and asks the backend to take the step; the backend alone decides whether the
step is legal (an illegal one is exit 5) and, on provisioning, which prefix
and VLAN the site gets.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Optional

import typer

from egactl.plugin.cli import DryRun, Institution, Yes, context, enforce, old_flags, time_for_people
from egactl_govnet import client, rules
from egactl_govnet.commands.common import ONBOARDING_DETAIL, complete_pool, complete_site

ACTIONS = rules.ACTIONS

Target = Annotated[str, typer.Argument(metavar="SITE", autocompletion=complete_site, help="INSTITUTION/NAME (e.g. RITA/dodoma-hq), NAME with --institution, or a request number.")]
Reason = Annotated[Optional[str], typer.Option("--reason", "-r", help="Why (kept in the audit log).")]


@old_flags({"-s": "--site"})  # -s is --state across the tool
def onboard(site: Annotated[str, typer.Option("--site", autocompletion=complete_site, help="Site NAME (or INSTITUTION/NAME).")],
            bandwidth: Annotated[str, typer.Option(help="Committed rate in bits/s: 512k, 20M, 1G.")],
            institution: Institution = None,
            prefix_length: Annotated[Optional[str], typer.Option(metavar="N", help="Prefix length to allocate (default: the pool's).")] = None,
            pop: Annotated[Optional[str], typer.Option(help="Point of presence (default: the site's region).")] = None,
            pool: Annotated[Optional[str], typer.Option(autocompletion=complete_pool, help="Address pool (default: the one serving the site's region).")] = None,
            notes: Annotated[Optional[str], typer.Option(help="Free text for the reviewers.")] = None,
            dry_run: DryRun = False):
    """Open an onboarding request for a site (it starts as requested).

    Examples:

      egactl govnet onboard --site RITA/dodoma-hq --bandwidth 20M --dry-run

      egactl govnet onboard -i RITA --site dodoma-hq --bandwidth 20M --prefix-length 29
    """
    ctx = context.get()
    inst, name = client.site_ref(site, ctx.institution(institution, required=False))
    body = {"institution": inst, "site": name,
            "bandwidth": enforce(rules.normalise_bandwidth, bandwidth, flag="--bandwidth"),
            "prefix_length": enforce(rules.parse_prefix_length, prefix_length, flag="--prefix-length") if prefix_length else None,
            "pop": enforce(rules.normalise_pop, pop, flag="--pop") if pop else None,
            "pool": enforce(rules.normalise_pool_name, pool.lower(), flag="--pool") if pool else None, "notes": notes}
    created = client.open_onboarding(ctx.api(), body, dry_run=dry_run)
    what = (f"{created['site']} ({created['bandwidth']}, a /{created['prefix_length']} from {created['pool']} "
            f"at {created['pop']})")
    if dry_run:
        ctx.io.status(f"dry run: would request onboarding of {what} (checked by the backend; nothing stored)")
    else:
        ctx.success(f"Requested onboarding of {created['site']} (request {created['id']}, {created['bandwidth']}, "
                    f"a /{created['prefix_length']} from {created['pool']} at {created['pop']})")
    ctx.render(created, ONBOARDING_DETAIL)


def _take(action: str, target: str, institution: str | None, body: dict[str, Any], dry_run: bool,
          done: Callable[[dict[str, Any], str], str], yes: bool | None = None) -> None:
    ctx = context.get()
    api = ctx.api()
    onboarding, etag = client.find_onboarding(api, target, ctx.institution(institution, required=False))
    label = f"{onboarding['site']} (request {onboarding['id']})"
    if dry_run:  # the backend takes the whole step (allocation, link test) and rolls it back
        after = client.step(api, onboarding, etag, action, body, dry_run=True)
        ctx.io.status(f"dry run: would {action} {label}: {onboarding['state']} → {after['state']}"
                      f"{_dry_detail(action, after)} (checked by the backend; nothing stored)")
        ctx.render(after, ONBOARDING_DETAIL)
        return
    if yes is not None:
        held = "; its prefix and VLAN are held, then go back to the pool" if onboarding.get("resources") == "allocated" else ""
        ctx.confirm(f"Offboard {onboarding['site']} (request {onboarding['id']}, now {onboarding['state']}{held})?", yes=yes)
    updated = client.step(api, onboarding, etag, action, body)
    ctx.success(done(updated, label))
    ctx.render(updated, ONBOARDING_DETAIL)


def _dry_detail(action: str, after: dict[str, Any]) -> str:
    if action == "provision":
        return f", {after['prefix']} and VLAN {after['vlan']} at {after['pop']}"
    if action == "offboard" and after.get("resources") == "held":
        return f", {after['prefix']} and VLAN {after['vlan']} held until {time_for_people(after['hold_until'])}"
    return ""


def approve(site: Target, institution: Institution = None, reason: Reason = None, dry_run: DryRun = False):
    """Approve a requested onboarding (admin).

    Examples:

      egactl govnet approve RITA/dodoma-hq --dry-run

      egactl govnet approve RITA/dodoma-hq --reason "budget confirmed"
    """
    _take("approve", site, institution, {"reason": reason}, dry_run, lambda ob, label: f"Approved {label}")


def provision(site: Target,
              provider: Annotated[str, typer.Option(help="Circuit provider, e.g. TTCL.")],
              circuit_id: Annotated[str, typer.Option(help="The provider's circuit id.")],
              committed_rate: Annotated[Optional[str], typer.Option(help="Committed rate of the circuit (default: the requested bandwidth).")] = None,
              institution: Institution = None, reason: Reason = None, dry_run: DryRun = False):
    """Allocate the site's prefix and VLAN and record its circuit (admin).

    Examples:

      egactl govnet provision RITA/dodoma-hq --provider TTCL --circuit-id TTCL-DOM-00123 --dry-run

      egactl govnet provision RITA/dodoma-hq --provider TTCL --circuit-id TTCL-DOM-00123 --committed-rate 20M
    """
    rate = enforce(rules.normalise_bandwidth, committed_rate, flag="--committed-rate") if committed_rate else None
    body = {"provider": enforce(rules.normalise_config_text, provider, "provider", flag="--provider"),
            "circuit_id": enforce(rules.normalise_config_text, circuit_id, "circuit id", flag="--circuit-id"),
            "committed_rate": rate, "reason": reason}
    _take("provision", site, institution, body, dry_run,
          lambda ob, label: f"Provisioned {label}: {ob['prefix']}, VLAN {ob['vlan']} at {ob['pop']}")


def activate(site: Target,
             throughput: Annotated[str, typer.Option(help="Measured throughput of the link test, e.g. 19.6M.")],
             latency_ms: Annotated[float, typer.Option(min=0, help="Measured round-trip latency in ms.")],
             loss_pct: Annotated[float, typer.Option(min=0, max=100, help="Measured packet loss in %.")],
             institution: Institution = None, reason: Reason = None, dry_run: DryRun = False):
    """Record a passing link test and put the site in service (admin).

    Examples:

      egactl govnet activate RITA/dodoma-hq --throughput 19.6M --latency-ms 11 --loss-pct 0 --dry-run

      egactl govnet activate RITA/dodoma-hq --throughput 19.6M --latency-ms 11 --loss-pct 0
    """
    measured = enforce(rules.normalise_bandwidth, throughput, flag="--throughput")
    body = {"throughput": measured, "latency_ms": latency_ms, "loss_pct": loss_pct, "reason": reason}
    _take("activate", site, institution, body, dry_run, lambda ob, label: f"Activated {label}")


def suspend(site: Target, reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit log).")],
            institution: Institution = None, dry_run: DryRun = False):
    """Take an active site out of service, keeping its prefix and VLAN (admin).

    Examples:

      egactl govnet suspend RITA/dodoma-hq --reason "unpaid circuit" --dry-run

      egactl govnet suspend RITA/dodoma-hq -r "unpaid circuit"
    """
    _take("suspend", site, institution, {"reason": reason}, dry_run, lambda ob, label: f"Suspended {label}")


def resume(site: Target, institution: Institution = None, reason: Reason = None, dry_run: DryRun = False):
    """Put a suspended site back in service (admin).

    Examples:

      egactl govnet resume RITA/dodoma-hq --dry-run

      egactl govnet resume RITA/dodoma-hq --reason "circuit paid"
    """
    _take("resume", site, institution, {"reason": reason}, dry_run, lambda ob, label: f"Resumed {label}")


def offboard(site: Target, institution: Institution = None, reason: Reason = None, yes: Yes = False,
             dry_run: DryRun = False):
    """Decommission a site; its prefix and VLAN return to the pool after the hold period.

    Examples:

      egactl govnet offboard RITA/dodoma-hq --dry-run

      egactl govnet offboard RITA/dodoma-hq --reason "moved to the new building" --yes
    """
    _take("offboard", site, institution, {"reason": reason}, dry_run, _offboarded, yes=yes)


def _offboarded(ob: dict[str, Any], label: str) -> str:
    if ob.get("resources") == "held":
        return f"Offboarded {label}; {ob['prefix']} and VLAN {ob['vlan']} are held until {time_for_people(ob['hold_until'])}"
    return f"Offboarded {label}"
