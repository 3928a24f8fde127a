"""The emulator's registry bodies; the rules are applied by rule_validator (a broken rule is a 422)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from egactl.plugin.server import rule_validator
from egactl_esb import rules


class ClientIn(BaseModel):
    institution: str = Field(max_length=32)
    client_id: str = Field(max_length=64)
    public_key: str = Field(max_length=400, description="base64 of the SubjectPublicKeyInfo DER (no PEM armour)")

    _client_id = rule_validator(rules.check_client_id, "client_id")
    _key = rule_validator(rules.check_public_key, "public_key")


class ClientOut(BaseModel):
    client_id: str
    institution: str
    curve: str
    key_fingerprint: str
    public_key: str
    created_at: str
    created_by: str


class ClientCreated(ClientOut):
    client_secret: str = Field(description="Shown once, never again: the bus keeps only its hash")


class ClientPage(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None = None


class ApiIn(BaseModel):
    code: str = Field(max_length=64)
    institution: str = Field(max_length=32, description="The provider")
    endpoint: str = Field(max_length=500)
    format: Literal["json", "xml"] = "json"
    consumers: list[str] = Field(default_factory=list, max_length=200)
    description: str | None = Field(default=None, max_length=200)

    _code = rule_validator(rules.check_api_code, "code")
    _endpoint = rule_validator(rules.check_endpoint, "endpoint")


class ApiOut(BaseModel):
    code: str
    institution: str
    endpoint: str
    format: str
    consumers: list[str]
    description: str | None = None
    created_at: str
    created_by: str


class ApiPage(BaseModel):
    items: list[ApiOut]
    next_cursor: str | None = None


class BusKeyOut(BaseModel):
    public_key: str
    curve: str
    key_fingerprint: str


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    scope: str = "read write"
