"""The *152*NN# USSD range: codes, lifecycle, mobile networks, session simulator.

Codes may be written *152*07#, 152*07, 07 or 7 (quote *152*07# in a shell).
"""

from egactl.plugin import Plugin

plugin = Plugin(name="ussd", commands="egactl_ussd.commands:app", backend="egactl_ussd.server:part")
