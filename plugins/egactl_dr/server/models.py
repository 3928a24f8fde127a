"""The DR plugin's tables: the inventory, drills, and the history of checks.

A system's last check and last passed drill are also kept on its row
(``last_check_*``, ``last_drill_passed_at``) so that the compliance report and
the inventory list are one query, not one per system. Those columns are
observations, not configuration: they are written with ``etag.observe``, which
does not bump ``version``, so a check run never makes someone's pending
``systems update`` stale.

Only a *verified* check (run by an operator or an admin, or by the server
itself) sets ``last_check_*``. A check posted by the help desk is kept as an
unverified observation (``observed_*``): it is shown as such, and it never
clears "never checked" nor makes a system compliant.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, validates

from egactl.plugin import personal
from egactl.plugin.server import Base, UTCDateTime, Versioned, unversioned
from egactl_dr.rules import CRITICALITIES, STATES

STAFF = personal("email", why="the staff account that acted: accountability")
NOT_A_PERSONS_NAME = {"personal": None, "why": "not a person's: a system's name"}
NOT_A_PERSONS_TEXT = {"personal": None, "why": "not a person's: an institution's own words about its system"}

_crit = ", ".join(f"'{c}'" for c in CRITICALITIES)
_states = ", ".join(f"'{s}'" for s in STATES)


class DrSystem(Versioned, Base):
    __tablename__ = "dr_systems"
    __table_args__ = (
        UniqueConstraint("institution", "name", name="uq_dr_systems_institution_name"),
        CheckConstraint(f"criticality IN ({_crit})", name="ck_dr_systems_criticality"),
        CheckConstraint("rpo_minutes > 0 AND rto_minutes > 0", name="ck_dr_systems_targets"),
        # egactl find: a host name → the systems with an endpoint there (primary or DR site), in answer order.
        Index("ix_dr_systems_primary_host", "primary_host", "institution", "id"),
        Index("ix_dr_systems_dr_host", "dr_host", "institution", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution: Mapped[str] = mapped_column(String(32), ForeignKey("core_institutions.code"), index=True)
    name: Mapped[str] = mapped_column(String(64), info=NOT_A_PERSONS_NAME)
    criticality: Mapped[str] = mapped_column(String(16))
    hosting: Mapped[str] = mapped_column(String(80))
    dr_hosting: Mapped[str | None] = mapped_column(String(80), nullable=True)
    primary_endpoint: Mapped[str] = mapped_column(String(500))
    dr_endpoint: Mapped[str | None] = mapped_column(String(500), nullable=True)
    primary_host: Mapped[str | None] = mapped_column(String(253), nullable=True)
    """The primary endpoint's host, lower case: set with the endpoint (``_hosts``), never on its own."""
    dr_host: Mapped[str | None] = mapped_column(String(253), nullable=True)
    """The DR endpoint's host, lower case, or None without a DR site."""
    version_from: Mapped[str | None] = mapped_column(String(120), nullable=True)
    replicated_from: Mapped[str | None] = mapped_column(String(120), nullable=True)
    backup_from: Mapped[str | None] = mapped_column(String(120), nullable=True)
    backup_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    rpo_minutes: Mapped[float] = mapped_column(Float)
    rto_minutes: Mapped[float] = mapped_column(Float)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ca_bundle: Mapped[str | None] = mapped_column(Text, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)
    last_drill_passed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_check_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_check_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_check_problems: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    observed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    observed_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    observed_by: Mapped[str | None] = mapped_column(String(200), nullable=True, info=STAFF)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    @property
    def ref(self) -> str:
        return f"{self.institution}/{self.name}"

    @validates("primary_endpoint", "dr_endpoint")
    def _hosts(self, key: str, endpoint: str | None) -> str | None:
        """Each write of an endpoint writes its host too, so the host index is never out of step."""
        host = endpoint_host(endpoint)
        if key == "primary_endpoint":
            self.primary_host = host
        else:
            self.dr_host = host
        return endpoint


def endpoint_host(endpoint: str | None) -> str | None:
    """The host of a stored endpoint (``https://crvs.rita.go.tz/health`` → ``crvs.rita.go.tz``)."""
    if not endpoint:
        return None
    return (urlsplit(endpoint if "://" in endpoint else f"tcp://{endpoint}").hostname or "").lower() or None


@unversioned("part of its system: started and finished only after guarding the system")
class DrDrill(Base):
    """One failover drill: started, then finished with what was measured."""

    __tablename__ = "dr_drills"
    __table_args__ = (
        CheckConstraint("result IN ('running', 'passed', 'failed')", name="ck_dr_drills_result"),
        # At most one drill in progress per system, enforced by the database.
        Index("uq_dr_drills_running", "system_id", unique=True,
              sqlite_where=text("result = 'running'"), postgresql_where=text("result = 'running'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("dr_systems.id", ondelete="CASCADE"), index=True)
    institution: Mapped[str] = mapped_column(String(32), index=True)
    system_name: Mapped[str] = mapped_column(String(64), info=NOT_A_PERSONS_NAME)
    result: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    restored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    measured_rto_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    data_loss_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    rto_target_minutes: Mapped[float] = mapped_column(Float)
    rpo_target_minutes: Mapped[float] = mapped_column(Float)
    failure_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list, info={
        "personal": None, "why": "not a person's: what a drill measured against its targets"})
    notes: Mapped[str | None] = mapped_column(Text, nullable=True, info=NOT_A_PERSONS_TEXT)
    started_by: Mapped[str] = mapped_column(String(200), info=STAFF)
    finished_by: Mapped[str | None] = mapped_column(String(200), nullable=True, info=STAFF)


@unversioned("append-only")
class DrCheckRun(Base):
    """One `egactl dr check` run as recorded by the CLI that ran it."""

    __tablename__ = "dr_check_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200), info=STAFF)
    role: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    deadline_exceeded: Mapped[bool] = mapped_column(Boolean, default=False)
    systems: Mapped[int] = mapped_column(Integer)
    verified: Mapped[bool] = mapped_column(Boolean, default=True)


@unversioned("append-only")
class DrCheckResult(Base):
    """One system's verdicts in one run: the rows `egactl dr history` shows."""

    __tablename__ = "dr_check_results"
    __table_args__ = (
        CheckConstraint(f"status IN ({_states})", name="ck_dr_check_results_status"),
        Index("ix_dr_check_results_system", "system_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("dr_check_runs.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("dr_systems.id", ondelete="CASCADE"))
    institution: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    checks: Mapped[list[Any]] = mapped_column(JSON)


TABLES = [DrSystem.__table__, DrDrill.__table__, DrCheckRun.__table__, DrCheckResult.__table__]

