"""Disaster-recovery readiness checks for government systems."""

from egactl.plugin import Plugin

plugin = Plugin(name="dr", commands="egactl_dr.commands:app", backend="egactl_dr.backend:part")
