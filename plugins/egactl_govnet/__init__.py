"""GovNet: onboarding institutions onto the government WAN.

Address pools with VLAN ranges per point of presence, each institution's
sites, and each site's onboarding request: onboard, approve, provision,
activate; suspend, resume, offboard. config renders a provisioned site's
customer-edge router configuration; import onboards sites in bulk from a CSV.
"""

from egactl.plugin import Plugin

plugin = Plugin(name="govnet", commands="egactl_govnet.commands:app", backend="egactl_govnet.server:part")
