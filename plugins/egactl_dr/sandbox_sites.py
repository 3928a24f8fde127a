"""The sandbox's DR sites: what the seeded systems' primary and DR endpoints answer.

The sandbox seeds three systems (``server/seed.py``) whose endpoints are under
the reserved ``.example`` domain (RFC 2606: never resolvable on the internet).
So that ``egactl dr check`` gives a real verdict in a fresh sandbox, the dr part
of the in-process backend plays those sites: ``GET
/api/v1/dr/sandbox/sites/{host}/{path}`` answers what the system's own health
endpoint would (only in the sandbox; ``egactl serve`` answers 404). ``dr check``
reaches a ``.example`` host through the backend it talks to (see
``commands/check/sandbox.py``): a real TLS handshake with the certificate below
and a real HTTP exchange, in this process, with nothing sent to any network.

The sites use a private CA, as many government systems do: the seed stores
``CA_PEM`` as each system's CA bundle (``dr systems show`` says "1
certificate(s)"), so the check verifies the chain as it would any other. The
key below is for these ``.example`` names only, and is trusted nowhere but by
the sandbox's systems. Made once with ``cryptography`` (EC P-256, valid
2026-01-01 to 2049-12-31).

Pure data and a pure function of the time: imported by the backend's route and
seed, and by the check.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

DOMAIN = ".example"
"""Hosts under it never resolve; a check asks the backend for them instead."""


@dataclass(frozen=True)
class Site:
    """One endpoint of a seeded system: its health path and what it reports."""

    path: str
    version: str | None = None                 # json:version
    replicated_minutes_ago: float | None = None  # json:replication.last_replicated_at (DR sites)
    backup_hours_ago: float | None = None        # json:backup.last_success (primary sites)
    text: str | None = None                     # a plain-text answer (DHIS2's ping says "pong")


# RITA/crvs is ready; TRA/idras's DR site lags (87% of its 30 min RPO: a WARNING)
# and it was never drilled; MOH/dhis2 answers, but has no DR site and no health fields.
SITES: dict[str, Site] = {
    "crvs.rita.example": Site("/health", version="2.4.1", replicated_minutes_ago=2, backup_hours_ago=5),
    "crvs-dr.rita.example": Site("/health", version="2.4.1", replicated_minutes_ago=2, backup_hours_ago=5),
    "idras.tra.example": Site("/health", version="7.2.0", replicated_minutes_ago=26, backup_hours_ago=20),
    "idras-dr.tra.example": Site("/health", version="7.2.0", replicated_minutes_ago=26, backup_hours_ago=20),
    "dhis2.moh.example": Site("/api/system/ping", text="pong"),
}


def is_sandbox_host(host: str) -> bool:
    return host.lower().rstrip(".").endswith(DOMAIN)


def respond(host: str, target: str, now: dt.datetime) -> tuple[int, dict[str, str], bytes] | None:
    """What ``host`` answers to ``GET target`` at ``now``: (status, headers, body); None if no such site."""
    site = SITES.get(host.lower().rstrip("."))
    if site is None:
        return None
    path = target.split("?", 1)[0] or "/"
    if path != site.path:
        return 404, {"content-type": "text/plain; charset=utf-8"}, b"not found\n"
    if site.text is not None:
        return 200, {"content-type": "text/plain; charset=utf-8"}, site.text.encode()
    body: dict = {"status": "ok", "version": site.version}
    if site.replicated_minutes_ago is not None:
        at = now - dt.timedelta(minutes=site.replicated_minutes_ago)
        body["replication"] = {"last_replicated_at": at.isoformat()}
    if site.backup_hours_ago is not None:
        at = now - dt.timedelta(hours=site.backup_hours_ago)
        body["backup"] = {"last_success": at.isoformat()}
    return 200, {"content-type": "application/json"}, json.dumps(body).encode()


CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBxDCCAWmgAwIBAgIUD55rjup/sT+FfXfgdomJtvqoDM8wCgYIKoZIzj0EAwIw
PjEXMBUGA1UECgwOZWdhY3RsIHNhbmRib3gxIzAhBgNVBAMMGmVnYWN0bCBzYW5k
Ym94IERSIHNpdGVzIENBMB4XDTI2MDEwMTAwMDAwMFoXDTQ5MTIzMTAwMDAwMFow
PjEXMBUGA1UECgwOZWdhY3RsIHNhbmRib3gxIzAhBgNVBAMMGmVnYWN0bCBzYW5k
Ym94IERSIHNpdGVzIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/Sn21da6
qhmjdaQOm5Km3wSTHTAo3LjuFEDOSvSqt+LpKcI08qU53q2kxXUDl7zDKZMX74zp
Vzcd8MBjug61xaNFMEMwEgYDVR0TAQH/BAgwBgEB/wIBADAOBgNVHQ8BAf8EBAMC
AQYwHQYDVR0OBBYEFHBNWMfCvwHRcNUV6IMiMRulhnxHMAoGCCqGSM49BAMCA0kA
MEYCIQDcqby02+7+1TwgWn0DPAQ+DlGZy5SyxJFwpZILdAkA6AIhANI8CoLCXt8m
wkEihVtjiC4PYkyonTrv9+kOIyja4jMz
-----END CERTIFICATE-----
"""
"""The sandbox sites' private CA (public certificate): the seeded systems' CA bundle."""

CERT_PEM = """-----BEGIN CERTIFICATE-----
MIICPTCCAeKgAwIBAgIUKz91QIGXr5aAd3K/T5QW6i09VpswCgYIKoZIzj0EAwIw
PjEXMBUGA1UECgwOZWdhY3RsIHNhbmRib3gxIzAhBgNVBAMMGmVnYWN0bCBzYW5k
Ym94IERSIHNpdGVzIENBMB4XDTI2MDEwMTAwMDAwMFoXDTQ5MTIzMTAwMDAwMFow
NDEXMBUGA1UECgwOZWdhY3RsIHNhbmRib3gxGTAXBgNVBAMMEHNhbmRib3ggRFIg
c2l0ZXMwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQxaByABX7qLOQDAPHyC2ZK
aE64Qq17VY87VfKfKlbzRKsFFABgPnDEVdcMzArwVF0BK8x2QCIGngo+1br5UjBJ
o4HHMIHEMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoG
CCsGAQUFBwMBMG4GA1UdEQRnMGWCEWNydnMucml0YS5leGFtcGxlghRjcnZzLWRy
LnJpdGEuZXhhbXBsZYIRaWRyYXMudHJhLmV4YW1wbGWCFGlkcmFzLWRyLnRyYS5l
eGFtcGxlghFkaGlzMi5tb2guZXhhbXBsZTAfBgNVHSMEGDAWgBRwTVjHwr8B0XDV
FeiDIjEbpYZ8RzAKBggqhkjOPQQDAgNJADBGAiEAxkhxHM5vyTwVqN4ZIqzoh1AI
+ogf+t146pKZfDxMqmUCIQDkXyAfpVLfMcjsGZlDlpvLHWsW+3PmK+MicQpwoWPR
dg==
-----END CERTIFICATE-----
"""
"""The sites' certificate, for every host of ``SITES``."""

KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglkp1EDiAWRPSN8O0
yU344OvIBd/ccp3xySKIEUIvrqmhRANCAAQxaByABX7qLOQDAPHyC2ZKaE64Qq17
VY87VfKfKlbzRKsFFABgPnDEVdcMzArwVF0BK8x2QCIGngo+1br5UjBJ
-----END PRIVATE KEY-----
"""
"""Its key: for the ``.example`` sandbox names only."""
