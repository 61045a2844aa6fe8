"""The default elevation mask of a constellation.

Minimum elevations from the operators' filings (see :mod:`skyfence.orbits.shells` for the
sources): Starlink 25 deg, Kuiper 35 deg, OneWeb 55 deg, Telesat 10 deg. Any other constellation
gets :data:`FALLBACK_MIN_ELEVATION_DEG`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "MIN_ELEVATION_DEG_BY_FAMILY",
    "FALLBACK_MIN_ELEVATION_DEG",
    "default_min_elevation_deg",
]

#: minimum elevation (deg) by constellation family, matched as a substring of the name
MIN_ELEVATION_DEG_BY_FAMILY: dict[str, float] = {
    "starlink": 25.0,
    "kuiper": 35.0,
    "oneweb": 55.0,
    "telesat": 10.0,
}

#: mask (deg) for a constellation of no known family (Starlink's user-terminal mask)
FALLBACK_MIN_ELEVATION_DEG = MIN_ELEVATION_DEG_BY_FAMILY["starlink"]


def default_min_elevation_deg(elements: object) -> float:
    """Default elevation mask (deg) for a constellation.

    ``elements`` is a preset or snapshot name (``"kuiper-630"``, ``"starlink"``), a file path, or
    an :class:`skyfence.orbits.elements.Elements` (its ``source`` names it). The first family of
    :data:`MIN_ELEVATION_DEG_BY_FAMILY` found in the name (case-insensitive) gives the mask; none:
    :data:`FALLBACK_MIN_ELEVATION_DEG`.
    """
    if isinstance(elements, (str, Path)):
        name = str(elements)
    else:
        name = str(getattr(elements, "source", "") or "")
    low = name.lower()
    for family, mask_deg in MIN_ELEVATION_DEG_BY_FAMILY.items():
        if family in low:
            return mask_deg
    return FALLBACK_MIN_ELEVATION_DEG
