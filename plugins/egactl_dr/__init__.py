"""Disaster-recovery readiness checks for government systems.

The inventory of systems and their DR sites, readiness checks of both sites
(reachability, TLS, DNS, version, replication, backups), failover drills with
their measured RTO and RPO, and the compliance report.
"""

from egactl.plugin import Plugin

plugin = Plugin(name="dr", commands="egactl_dr.commands:app", backend="egactl_dr.server:part")
