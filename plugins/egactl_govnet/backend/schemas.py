"""The JSON GovNet's API answers with: the documented schema of ``-o json`` and of the OpenAPI contract."""

from __future__ import annotations

from pydantic import BaseModel, Field


class VlanRangeOut(BaseModel):
    pop: str
    first: int
    last: int
    total: int
    used: int = Field(description="VLANs in use or on hold")
    free: int


class UsageOut(BaseModel):
    total_addresses: int
    used_addresses: int = Field(description="Allocated or on hold")
    free_addresses: int
    utilisation: float = Field(description="used / total, 0.0-1.0")
    free_blocks: int = Field(description="How many maximal free CIDR blocks the free space is in")
    largest_free_block: str | None = Field(description="The biggest prefix still free (lowest such one)")
    largest_free_length: int | None
    capacity_length: int = Field(description="The pool's default prefix length, which capacity counts in")
    capacity: int = Field(description="How many more blocks of capacity_length fit")
    fragmentation: float = Field(description="Share of free addresses in blocks smaller than capacity_length")


class PoolOut(BaseModel):
    name: str
    cidr: str
    prefix_length: int
    default_prefix_length: int
    region: str | None
    description: str | None
    vlans: list[VlanRangeOut]
    usage: UsageOut
    version: int
    created_at: str


class PoolDetail(PoolOut):
    free_blocks: list[str] = Field(description="The free space as maximal CIDR blocks, in address order")


class PoolPage(BaseModel):
    items: list[PoolOut]
    next_cursor: str | None


class CircuitOut(BaseModel):
    provider: str
    circuit_id: str | None
    committed_rate: str
    committed_bps: int | None


class LinkTestOut(BaseModel):
    latency_ms: float
    loss_pct: float
    throughput: str
    throughput_bps: int
    tested_at: str
    tested_by: str


class OnboardingOut(BaseModel):
    id: int
    site: str = Field(description="INSTITUTION/NAME")
    institution: str
    region: str
    state: str = Field(description="requested, approved, provisioned, active, suspended or decommissioned")
    state_since: str
    pool: str
    pop: str
    prefix_length: int
    prefix: str | None = Field(description="Set by provisioning; kept after decommissioning, for the record")
    vlan: int | None
    bandwidth: str
    bandwidth_bps: int
    circuit: CircuitOut | None
    link_test: LinkTestOut | None
    resources: str | None = Field(description="allocated, held (until hold_until), released, or null if none were")
    hold_until: str | None
    released_at: str | None
    requested_by: str
    requested_at: str
    approved_at: str | None
    provisioned_at: str | None
    activated_at: str | None
    suspended_at: str | None
    decommissioned_at: str | None
    notes: str | None
    version: int


class OnboardingPage(BaseModel):
    items: list[OnboardingOut]
    next_cursor: str | None


class ContactOut(BaseModel):
    name: str | None
    phone: str | None
    email: str | None


class SiteOut(BaseModel):
    site: str = Field(description="INSTITUTION/NAME")
    institution: str
    name: str
    region: str
    district: str | None
    address: str | None
    contact: ContactOut = Field(description="Masked for the helpdesk role")
    state: str | None = Field(description="The state of the latest onboarding request, if any")
    onboarding: OnboardingOut | None
    version: int
    created_at: str
    updated_at: str


class SitePage(BaseModel):
    items: list[SiteOut]
    next_cursor: str | None


class WaitingOut(BaseModel):
    id: int
    site: str
    institution: str
    state: str
    since: str
    days_waiting: int


class IdleOut(BaseModel):
    institution: str
    name: str


class StatusOut(BaseModel):
    counts: dict[str, int] = Field(description="Requests per state")
    waiting_days: int
    waiting: list[WaitingOut] = Field(description="Requests requested, approved or provisioned for longer than waiting_days")
    without_active_site: list[IdleOut]
