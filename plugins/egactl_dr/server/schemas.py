"""The dr API's request and response bodies.

Request bodies apply the same rules as the commands (``egactl_dr.rules``)
through ``rule_validator``: a broken rule is the field's 422, worded as the
command line words it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from egactl.plugin.server import rule_validator
from egactl_dr import rules

Criticality = Literal[rules.CRITICALITIES]  # type: ignore[valid-type]
State = Literal[rules.STATES]  # type: ignore[valid-type]


class _SystemRules(BaseModel):
    _hosting = rule_validator(rules.normalise_hosting, "hosting", "dr_hosting")
    _endpoints = rule_validator(rules.normalise_endpoint, "primary_endpoint", "dr_endpoint")
    _backup_url = rule_validator(rules.normalise_http_url, "backup_url")
    _fields = rule_validator(rules.normalise_field_source, "version_from", "replicated_from", "backup_from")
    _thresholds = rule_validator(rules.normalise_thresholds, "thresholds")
    _ca = rule_validator(rules.normalise_ca_bundle, "ca_bundle")


class SystemIn(_SystemRules):
    institution: str = Field(description="Institution code, e.g. RITA")
    name: str = Field(description="The system's short name, unique in its institution, e.g. crvs")
    criticality: Criticality = "medium"
    hosting: str = Field(description="Hosting environment of the primary site, e.g. gdc-dodoma")
    dr_hosting: str | None = Field(default=None, description="Hosting environment of the DR site")
    primary_endpoint: str = Field(description="https://…/health, http://…, tls://host:port or host:port")
    dr_endpoint: str | None = Field(default=None, description="The DR site's endpoint; null: no DR site")
    version_from: str | None = Field(default=None, description="json:PATH or header:NAME in the health response")
    replicated_from: str | None = Field(default=None, description="Last-replicated time at the DR site: json:PATH or header:NAME")
    backup_from: str | None = Field(default=None, description="Last backup time: json:PATH or header:NAME")
    backup_url: str | None = Field(default=None, description="Where backup_from is read (default: the primary endpoint)")
    rpo_minutes: float = Field(gt=0, le=525600, description="Recovery point objective")
    rto_minutes: float = Field(gt=0, le=525600, description="Recovery time objective")
    thresholds: dict[str, Any] = Field(default_factory=dict, description="Overrides of the default thresholds")
    ca_bundle: str | None = Field(default=None, description="PEM certificates of a private CA the probes must trust")
    notes: str | None = Field(default=None, max_length=2000)

    _name = rule_validator(rules.normalise_name, "name", allow_none=False)

    @model_validator(mode="after")
    def _code(self):
        self.institution = self.institution.strip().upper()
        return self


class SystemPatch(_SystemRules):
    criticality: Criticality | None = None
    hosting: str | None = None
    dr_hosting: str | None = None
    primary_endpoint: str | None = None
    dr_endpoint: str | None = None
    version_from: str | None = None
    replicated_from: str | None = None
    backup_from: str | None = None
    backup_url: str | None = None
    rpo_minutes: float | None = Field(default=None, gt=0, le=525600)
    rto_minutes: float | None = Field(default=None, gt=0, le=525600)
    thresholds: dict[str, Any] | None = None
    ca_bundle: str | None = None
    notes: str | None = Field(default=None, max_length=2000)


class SystemOut(BaseModel):
    id: int
    system: str
    institution: str
    name: str
    criticality: str
    hosting: str
    hosting_approved: bool
    dr_hosting: str | None
    dr_hosting_approved: bool | None
    primary_endpoint: str
    dr_endpoint: str | None
    version_from: str | None
    replicated_from: str | None
    backup_from: str | None
    backup_url: str | None
    rpo_minutes: float
    rto_minutes: float
    thresholds: dict[str, Any]
    ca_bundle: str | None
    notes: str | None
    last_successful_drill_at: str | None
    days_since_successful_drill: int | None
    drill_running_since: str | None
    last_check_at: str | None
    last_check_status: str | None
    version: int
    created_at: str
    updated_at: str


class SystemPage(BaseModel):
    items: list[SystemOut]
    next_cursor: str | None


class HostingOut(BaseModel):
    approved: list[str]


class DrillStart(BaseModel):
    started_at: dt.datetime | None = Field(default=None, description="When the drill began (default: now)")
    notes: str | None = Field(default=None, max_length=2000)


class DrillFinish(BaseModel):
    restored_at: dt.datetime | None = Field(default=None, description="When service was restored at the DR site (default: now)")
    data_loss_minutes: float | None = Field(default=None, ge=0, le=525600, description="Measured RPO: data lost, in minutes")
    failed: bool = Field(default=False, description="The failover did not work, whatever was measured")
    notes: str | None = Field(default=None, max_length=2000)


class DrillOut(BaseModel):
    id: int
    system: str
    institution: str
    name: str
    result: Literal["running", "passed", "failed"]
    started_at: str
    restored_at: str | None
    finished_at: str | None
    measured_rto_minutes: float | None
    data_loss_minutes: float | None
    rto_target_minutes: float
    rpo_target_minutes: float
    failure_reasons: list[str]
    notes: str | None
    started_by: str
    finished_by: str | None


class DrillPage(BaseModel):
    items: list[DrillOut]
    next_cursor: str | None


class CheckIn(BaseModel):
    check: str = Field(max_length=64, description="e.g. primary.reachability, dr.tls, version, replication")
    state: State
    reason: str = Field(max_length=1000)
    metrics: dict[str, float | None] = Field(default_factory=dict)


class SystemResultIn(BaseModel):
    institution: str
    name: str
    status: State
    checks: list[CheckIn] = Field(max_length=64)


class RunIn(BaseModel):
    started_at: dt.datetime
    finished_at: dt.datetime
    deadline_exceeded: bool = False
    results: list[SystemResultIn] = Field(min_length=1, max_length=5000)


class RunOut(BaseModel):
    id: int
    at: str
    status: State
    systems: int
    deadline_exceeded: bool
    actor: str
    role: str
    verified: bool


class ResultOut(BaseModel):
    id: int
    run_id: int
    system: str
    at: str
    checked_at: str
    checked_by: str
    role: str
    verified: bool
    status: State
    counts: dict[str, int]
    checks: list[dict[str, Any]]


class ResultPage(BaseModel):
    items: list[ResultOut]
    next_cursor: str | None


class ReportRow(BaseModel):
    system: str
    institution: str
    name: str
    criticality: str
    compliant: bool
    issues: list[str]
    has_dr_site: bool
    hosting: str
    hosting_approved: bool
    dr_hosting: str | None
    dr_hosting_approved: bool | None
    last_check_at: str | None
    last_check_status: str | None
    unverified_at: str | None
    unverified_status: str | None
    unverified_by: str | None
    failing_checks: list[str]
    last_successful_drill_at: str | None
    days_since_successful_drill: int | None
    drill_overdue: bool


class ReportPage(BaseModel):
    items: list[ReportRow]
    next_cursor: str | None
