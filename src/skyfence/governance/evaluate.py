"""The Cedar decision for one terminal in one H3 cell under an enacted policy set (used by the
service decision and by the offline receipt verifier, so both evaluate the same way)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import cedarpy
import numpy as np

from skyfence.policy.cedar import ServicePolicy, cell_entity, make_request, terminal_entity
from skyfence.policy.regionset import RegionSet

__all__ = ["cedar_decide"]


@functools.lru_cache(maxsize=32)
def _compiled(policy_hash: str, cedar: str, regions_json: str,
              h3_resolution: int) -> tuple[ServicePolicy, RegionSet]:
    policy = ServicePolicy.from_text(cedar, source="policy.cedar")
    regions = RegionSet.from_specs(json.loads(regions_json), h3_resolution)
    return policy, regions


def cedar_decide(cedar: str, regions: Mapping[str, Any], policy_hash: str, terminal: str,
                 groups: list[str], cell_hex: str, at_utc: str,
                 h3_resolution: int) -> tuple[bool, list[str], list[str]]:
    """(allowed, the deciding policies explained, the named regions holding the cell) for
    `terminal` in its `groups` at H3 cell `cell_hex` (of `h3_resolution`) at `at_utc`, speed 0.
    `policy_hash` keys the compiled policy cache."""
    policy, rs = _compiled(policy_hash, cedar, json.dumps(regions, sort_keys=True), int(h3_resolution))
    cell_int = np.array([int(cell_hex, 16)], dtype=np.uint64)
    cell_regions = list(rs.cell_region_names(cell_int)[0]) if len(rs) else []
    result = cedarpy.is_authorized(make_request(terminal, cell_hex, at_utc, 0), policy.policy_set,
                                   [terminal_entity(terminal, groups), cell_entity(cell_hex, cell_regions)])
    return bool(result.allowed), policy.explain(result.diagnostics.reasons), cell_regions
