"""Pydantic models of request bodies (the API's edge; the domain uses plain dicts)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_ID = Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")


class TerminalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = _ID
    lat_deg: float = Field(ge=-90, le=90, description="WGS84 latitude, degrees")
    lon_deg: float = Field(ge=-180, le=180, description="WGS84 longitude, degrees")
    owner: str | None = Field(default=None, min_length=1, max_length=128)
    groups: list[str] = Field(default_factory=list, max_length=64)
    status: str = Field(default="registered", pattern="^(registered|active|suspended)$")


class GroupsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: list[str] = Field(max_length=64)


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = _ID
    description: str = Field(default="", max_length=10_000)


class OwnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = _ID
    max_terminals: int | None = Field(default=None, ge=0, le=10_000_000)


class ProposalIn(BaseModel):
    """A proposal's fields (see skyfence.governance.rules.proposal) and the proposer's Ed25519
    signature (hex) over their canonical bytes."""

    model_config = ConfigDict(extra="forbid")
    proposal: dict[str, Any]
    signature: str = Field(pattern=r"^[0-9a-fA-F]{128}$")


class ApprovalIn(BaseModel):
    """The approver's Ed25519 signature (hex) over the proposal's canonical bytes."""

    model_config = ConfigDict(extra="forbid")
    signature: str = Field(pattern=r"^[0-9a-fA-F]{128}$")
