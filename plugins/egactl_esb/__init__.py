"""GovESB: sign, verify and encrypt Government Enterprise Service Bus envelopes.

Every public institution's systems exchange data through GovESB, with
envelopes signed by elliptic-curve keys (secp256k1 or prime256v1, SHA256withECDSA)
and, optionally, payloads encrypted for the recipient (ECDH, HKDF-SHA256,
AES-256-GCM). These commands make an institution's key pair and sign, verify,
encrypt and decrypt captured envelopes (JSON or XML) offline, for debugging
an integration.
"""

from egactl.plugin import Plugin

plugin = Plugin(name="esb", commands="egactl_esb.commands:app", backend="egactl_esb.server:part")
