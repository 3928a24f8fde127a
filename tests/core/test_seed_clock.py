"""Seeds get the clock: the sandbox's example data of every plugin is dated from the
backend's clock (``seed(session, now)``), never from the machine's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, select


def test_every_seeded_timestamp_follows_the_backend_clock(tmp_path):
    from egactl.server.app import create_app
    from egactl.server.clock import FakeClock

    moment = dt.datetime(2031, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    app = create_app(f"sqlite:///{tmp_path / 'sandbox.db'}", sandbox=True, clock=FakeClock(moment))
    be = app.state.backend
    seen: dict[str, int] = {}
    try:
        with be.read_sessions() as session:
            for name, part in be.parts.items():
                for table in part.tables:
                    stamps = [c for c in table.columns if isinstance(getattr(c.type, "impl", c.type), DateTime)]
                    for row in session.execute(select(*stamps)).all() if stamps else []:
                        for column, value in zip(stamps, row):
                            if value is None:
                                continue
                            value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
                            # Examples may lie in the past of the clock (a drill 120 days ago), never
                            # at the machine's time, years before it.
                            assert moment - dt.timedelta(days=366) <= value <= moment + dt.timedelta(days=366), \
                                f"{name}: {table.name}.{column.name} = {value}, not dated from the backend clock"
                            seen[name] = seen.get(name, 0) + 1
    finally:
        be.engine.dispose()
    assert {"dr", "govnet", "mail", "sms"} <= set(seen)  # the plugins that seed dated rows were looked at


def test_an_sdk_1_0_seed_without_the_clock_is_still_called():
    from egactl.server.app import _takes_clock

    def old(session):
        return None

    def new(session, now):
        return None

    assert not _takes_clock(old) and _takes_clock(new)
