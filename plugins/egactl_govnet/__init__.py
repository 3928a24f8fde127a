"""GovNet: onboarding institutions onto the government WAN."""

from egactl.plugin import Plugin

plugin = Plugin(name="govnet", commands="egactl_govnet.commands:app", backend="egactl_govnet.backend:part")
