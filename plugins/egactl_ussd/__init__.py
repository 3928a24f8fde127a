"""The *152*NN# USSD range: codes, lifecycle, operators, session simulator."""

from egactl.plugin import Plugin

plugin = Plugin(name="ussd", commands="egactl_ussd.commands:app", backend="egactl_ussd.backend:part")
