"""The esb plugin's part of the reference backend: a GovESB emulator.

The bus's token endpoint, its engine (``/request``, ``/push-request``,
``/nida-request``; routes that authenticate their callers by the bus's own
OAuth tokens), and its registry of clients and API codes (egactl's roles).

Settings (``EGACTL_ESB_<KEY>`` or ``create_app(settings={"esb.<key>": …})``):

- ``token_seconds``: how long a bus token lasts (``expires_in``);
- ``provider_timeout``: seconds the bus waits for a provider;
- ``private_key``: the bus's key (base64 of PKCS#8 DER); unset, one is made at
  first use and kept in the database, never shown;
- ``curve``: the curve of a key made at first use.
"""

from __future__ import annotations

from egactl.plugin import BackendPart
from egactl_esb.server.models import TABLES
from egactl_esb.server.routes import router
from egactl_esb.server.seed import seed
from egactl_esb.server.service import holdings

part = BackendPart(
    router=router,
    tables=TABLES,
    migrations="egactl_esb.server.migrations",
    holdings=holdings,
    seed=seed,
    settings={"token_seconds": 3600, "provider_timeout": 10.0, "private_key": "", "curve": "secp256k1"},
)
