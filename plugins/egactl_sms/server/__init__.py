"""The sms part of the reference backend: senders, groups, opt-outs, messages,
batches, the outbox, and the delivery worker."""

from __future__ import annotations

from egactl.plugin import BackendPart, PersonalData, Worker
from egactl_sms.server import workers
from egactl_sms.server.models import TABLES
from egactl_sms.server.routes import router
from egactl_sms.server.seed import seed
from egactl_sms.server.service import holdings

part = BackendPart(
    router=router, tables=TABLES, migrations="egactl_sms.server.migrations", seed=seed, holdings=holdings,
    # An opt-out's audit id is "INSTITUTION/NUMBER" and its reason is the citizen's own words.
    personal=[PersonalData("sms-optout", r"(?P<institution>[^/]+)/(?P<phone>.+)", reason=True)],
    workers=[Worker("delivery", workers.tick, interval=0.25)], settings=dict(workers.SETTINGS))
