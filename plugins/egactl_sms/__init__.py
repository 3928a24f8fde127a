"""GovSMS: quick, group and bulk SMS to citizens."""

from egactl.plugin import Plugin

plugin = Plugin(name="sms", commands="egactl_sms.commands:app", backend="egactl_sms.server:part")
