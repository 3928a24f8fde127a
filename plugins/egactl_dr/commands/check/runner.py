"""One check run: every site of every selected system probed at once, under one deadline.

- Sites are probed concurrently (at most ``concurrency`` at a time, so a large
  estate does not exhaust file descriptors); each probe has its own timeout.
  The run therefore costs about one timeout, not the sum of them.
- The whole run has a deadline. When it passes, unfinished probes are
  cancelled and their checks become UNKNOWN; ``deadline_exceeded`` says so
  (``--nagios`` then reports UNKNOWN, as monitoring plugins do on a timeout).
- The event loop is private to the run, with its own thread pool for DNS
  lookups (``getaddrinfo`` blocks a thread; a stuck resolver must not starve the
  other lookups, and must not hold up the end of the run either: the pool is
  shut down without waiting).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from egactl.plugin.cli import context
from egactl_dr import rules
from egactl_dr.commands.check.probes import (NETWORK, Network, ReachObservation, SiteObservation, probe_site,
                                            probe_url, ssl_context)
from egactl_dr.commands.check.verdicts import Observed, SystemVerdict, evaluate

# Sites in flight at once. Waiting on a silent site costs a slot, not CPU; but the
# sites that do answer cost a TLS handshake each, and too many at once on a busy
# CPU make healthy sites miss their timeouts (bench/dr_check.py shows it).
DEFAULT_CONCURRENCY = 128
DNS_THREADS = 64


@dataclass
class RunOptions:
    deadline: float                  # seconds for the whole run (as the user gave it, for messages)
    budget: float | None = None      # seconds left of it when probing starts (default: all of it)
    timeout: float | None = None     # per-probe timeout for every system (else each system's own)
    ca_data: str | None = None       # the run's extra CA bundle, PEM (--ca-bundle)
    concurrency: int = DEFAULT_CONCURRENCY
    network: Network | None = None   # hosts reached other than over the network (the sandbox's sites)


@dataclass
class RunResult:
    verdicts: list[SystemVerdict]
    started_at: dt.datetime
    finished_at: dt.datetime
    deadline_exceeded: bool
    unfinished: int = 0
    elapsed: float = 0.0
    probed_sites: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.deadline_exceeded:
            return "UNKNOWN"
        return rules.worst([v.status for v in self.verdicts]) if self.verdicts else "UNKNOWN"


def run(systems: list[dict[str, Any]], options: RunOptions) -> RunResult:
    """Probe, then judge. Blocking; owns its event loop from start to finish."""
    loop = asyncio.new_event_loop()
    pool = ThreadPoolExecutor(max_workers=DNS_THREADS, thread_name_prefix="egactl-dr-dns")
    loop.set_default_executor(pool)
    try:
        return loop.run_until_complete(_run(systems, options))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        loop.close()


@dataclass
class _Plan:
    system: dict[str, Any]
    timeout: float
    context: Any
    primary: SiteObservation | None = None
    dr: SiteObservation | None = None
    backup: ReachObservation | None = None


async def _run(systems: list[dict[str, Any]], options: RunOptions) -> RunResult:
    token = NETWORK.set(options.network)
    try:
        return await _run_probes(systems, options)
    finally:
        NETWORK.reset(token)
        if options.network is not None:
            await options.network.close()


async def _run_probes(systems: list[dict[str, Any]], options: RunOptions) -> RunResult:
    started_wall = context.get().now()
    started = time.monotonic()
    contexts: dict[str | None, Any] = {}

    def context_for(cadata: str | None):
        if cadata not in contexts:
            contexts[cadata] = ssl_context(options.ca_data, cadata)
        return contexts[cadata]

    plans: list[_Plan] = []
    for system in systems:
        limits = rules.effective_thresholds(system.get("thresholds"))
        timeout = float(options.timeout or limits["timeout_seconds"])
        plans.append(_Plan(system, timeout, context_for(system.get("ca_bundle") or None)))

    gate = asyncio.Semaphore(max(1, options.concurrency))

    async def site(plan: _Plan, role: str, url: str) -> None:
        endpoint = rules.parse_endpoint(url)
        obs = SiteObservation(endpoint)
        setattr(plan, role, obs)
        async with gate:
            await probe_site(endpoint, timeout=plan.timeout, context=plan.context, into=obs)

    async def backup(plan: _Plan, url: str) -> None:
        async with gate:
            plan.backup = await probe_url(url, plan.timeout, plan.context)

    tasks: list[asyncio.Task] = []
    for plan in plans:
        s = plan.system
        tasks.append(asyncio.create_task(site(plan, "primary", s["primary_endpoint"])))
        if s.get("dr_endpoint"):
            tasks.append(asyncio.create_task(site(plan, "dr", s["dr_endpoint"])))
        if s.get("backup_from") and s.get("backup_url") and s["backup_url"] != s["primary_endpoint"]:
            tasks.append(asyncio.create_task(backup(plan, s["backup_url"])))

    budget = options.deadline if options.budget is None else options.budget
    remaining = budget - (time.monotonic() - started)
    pending: set[asyncio.Task] = set()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=max(remaining, 0))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    now = context.get().now()
    verdicts = []
    for plan in plans:
        # A site cut off by the deadline keeps the probes that finished; the others stay None (UNKNOWN).
        observed = Observed(plan.primary, plan.dr, plan.backup, deadline_exceeded=bool(pending))
        verdicts.append(evaluate(plan.system, observed, now=now, deadline=options.deadline, timeout=plan.timeout))
    result = RunResult(verdicts, started_wall, now, bool(pending), unfinished=len(pending),
                       elapsed=time.monotonic() - started, probed_sites=len(tasks))
    result.results = [v.as_dict() for v in verdicts]
    return result
