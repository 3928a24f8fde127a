"""GovNet's request and response bodies: the documented schema of ``-o json`` and of the OpenAPI contract.

A request body applies GovNet's rules to its fields (``rule_validator``), so a
value the rules refuse is a 422 naming the field, with the rule's own line, and
the routes see only normalised values.
"""

from __future__ import annotations

from functools import partial

from pydantic import BaseModel, Field, field_validator

from egactl.plugin.rules import check_email, normalise_phone
from egactl.plugin.server import bulk_request, bulk_response, rule_validator
from egactl_govnet import rules


def _config_text(what: str):
    """The rule for text that reaches a router's configuration, naming the field as people read it."""
    return partial(rules.normalise_config_text, what=what)


def _blank_is_none(value):
    return (value.strip() or None) if isinstance(value, str) else value


# -- requests -------------------------------------------------------------------------


class VlanRangeIn(BaseModel):
    pop: str
    first: int
    last: int


class PoolIn(BaseModel):
    name: str
    cidr: str
    default_prefix_length: int | None = Field(default=None, description="Handed to a site unless its request says otherwise (default /29, or the pool's own length if smaller)")
    region: str | None = None
    description: str | None = Field(default=None, max_length=200)
    vlans: list[VlanRangeIn] = Field(min_length=1, description="At least one VLAN range, one per PoP")

    _blank = field_validator("description", mode="before")(_blank_is_none)
    _name = rule_validator(rules.normalise_pool_name, "name")
    _cidr = rule_validator(rules.normalise_pool_cidr, "cidr")
    _region = rule_validator(rules.normalise_region, "region")
    _description = rule_validator(_config_text("description"), "description")


class _SiteRules(BaseModel):
    """The checks of a site's fields, the same when a site is created and when it is changed
    (each model declares its fields itself, in the order its errors are reported)."""

    _blank = field_validator("district", "address", "contact_name", "contact_phone", "contact_email",
                             mode="before", check_fields=False)(_blank_is_none)
    _region = rule_validator(rules.normalise_region, "region")
    _district = rule_validator(_config_text("district"), "district")
    _address = rule_validator(_config_text("address"), "address")
    _contact_name = rule_validator(rules.normalise_contact_name, "contact_name")
    _contact_phone = rule_validator(normalise_phone, "contact_phone")
    _contact_email = rule_validator(check_email, "contact_email")


class SiteIn(_SiteRules):
    institution: str
    name: str
    region: str
    district: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=200)
    contact_name: str | None = Field(default=None, max_length=120)
    contact_phone: str | None = None
    contact_email: str | None = None

    _name = rule_validator(rules.normalise_site_name, "name")


class SitePatch(_SiteRules):
    """The fields of a site to change, checked as SiteIn checks them; an optional field sent as null is cleared."""

    region: str | None = None
    district: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=200)
    contact_name: str | None = Field(default=None, max_length=120)
    contact_phone: str | None = None
    contact_email: str | None = None


class PoolPatch(BaseModel):
    """The fields of a pool to change. ``vlans`` sets the range of each PoP named (a new PoP is added);
    PoPs not named keep theirs."""

    description: str | None = Field(default=None, max_length=200)
    default_prefix_length: int | None = Field(default=None, description="Handed to a site unless its request says otherwise")
    vlans: list[VlanRangeIn] | None = Field(default=None, description="VLAN ranges to set, one per PoP")

    _blank = field_validator("description", mode="before")(_blank_is_none)
    _description = rule_validator(_config_text("description"), "description")


class OnboardIn(BaseModel):
    institution: str
    site: str
    bandwidth: str = Field(description="Committed rate asked for, in bits per second: 512k, 20M, 1G")
    prefix_length: int | None = Field(default=None, description="Default: the pool's default prefix length")
    pop: str | None = Field(default=None, description="Default: the PoP of the site's region, or the pool's only PoP")
    pool: str | None = Field(default=None, description="Default: the pool serving the site's region")
    notes: str | None = Field(default=None, max_length=500)

    _blank = field_validator("pop", "pool", "notes", mode="before")(_blank_is_none)
    _site = rule_validator(rules.normalise_site_name, "site")
    _bandwidth = rule_validator(rules.normalise_bandwidth, "bandwidth")
    _pop = rule_validator(rules.normalise_pop, "pop")


class StepIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class ProvisionIn(StepIn):
    provider: str = Field(min_length=2, max_length=64, description="Circuit provider, e.g. TTCL")
    circuit_id: str = Field(min_length=1, max_length=64)
    committed_rate: str | None = Field(default=None, description="Default: the requested bandwidth")

    _blank = field_validator("committed_rate", mode="before")(_blank_is_none)
    _provider = rule_validator(_config_text("provider"), "provider")
    _circuit_id = rule_validator(_config_text("circuit id"), "circuit_id")
    _committed_rate = rule_validator(rules.normalise_bandwidth, "committed_rate")


class ActivateIn(StepIn):
    latency_ms: float = Field(ge=0, le=10_000)
    loss_pct: float = Field(ge=0, le=100)
    throughput: str = Field(description="Measured throughput, e.g. 19.6M")

    _throughput = rule_validator(rules.normalise_bandwidth, "throughput")


class SuspendIn(StepIn):
    reason: str = Field(min_length=3, max_length=500)


class ImportRow(BaseModel):
    # One CSV line of `egactl govnet import`: a site and its request, checked as SiteIn and OnboardIn.
    institution: str
    site: str
    region: str
    district: str | None = None
    address: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    bandwidth: str
    prefix_length: int | None = None
    pop: str | None = None
    pool: str | None = None


ImportIn = bulk_request(ImportRow, name="GovnetImportIn")
ImportOut = bulk_response(("requested", "exists", "failed"), name="GovnetImportOut")


# -- responses ------------------------------------------------------------------------


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
    without_active_site: list[IdleOut] = Field(description="Institutions with no active site, by code (at most `limit`)")
    without_active_site_count: int = Field(description="How many institutions have no active site, in all")
