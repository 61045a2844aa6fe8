"""Pydantic models of request bodies and of the signed receipt (the API's edge; the domain uses
plain dicts)."""

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


class ServiceReceipt(BaseModel):
    """The body of ``GET /service``: the decision and the log's Ed25519 ``signature`` over the
    receipt's canonical JSON without it (``skyfence receipt verify`` checks it offline). The route
    sends the signed bytes as they are; this model documents them (OpenAPI) and a test checks real
    receipts against it."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(description="receipt format, skyfence-receipt-v1")
    terminal: str
    at_utc: str = Field(description="the decision's instant, ISO 8601 UTC")
    decision: str = Field(pattern="^(served|denied|uncovered)$")
    reason: str
    status: str | None = Field(description="the terminal's registry status (null: not registered)")
    groups: list[str]
    regions: list[str]
    lat_deg: float | None
    lon_deg: float | None
    h3_cell: str | None
    h3_resolution: int
    elements: str = Field(description="the satellites' element set the coverage was computed from")
    min_elevation_deg: float
    max_elevation_deg: float | None = Field(default=None, description="highest satellite in view, degrees")
    visible_satellites: int | None
    policy: dict[str, Any] | None = Field(description="the policy in force with its log entries, inclusion "
                                                      "proofs and quorum signatures (null: none in force)")
    tree_size: int = Field(description="the log size the receipt was made at")
    checkpoint: str = Field(description="the log's signed C2SP checkpoint at tree_size")
    log_verifier_key: str
    witnessed: dict[str, Any] | None = Field(default=None, description="the latest witnessed checkpoint with "
                                                                      "its cosignatures and a consistency proof")
    signature: str = Field(description="base64 Ed25519 signature by the log key")
