"""The sandbox's example sender IDs are stamped with the backend's clock, not the machine's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select


def test_seeded_senders_are_dated_by_the_backend_clock(tmp_path):
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock
    from egactl_sms.server.models import Sender

    moment = dt.datetime(2031, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    app = create_app(f"sqlite:///{tmp_path / 'sandbox.db'}", sandbox=True, clock=FakeClock(moment))
    be = app.state.backend
    try:
        with be.write_sessions() as session:
            rows = session.scalars(select(Sender).order_by(Sender.name)).all()
            assert [r.name for r in rows if r.institution == "RITA"] == ["RITA"]
            assert {(r.status, r.requested_at, r.decided_at) for r in rows} == {("approved", moment, moment)}
    finally:
        be.engine.dispose()
