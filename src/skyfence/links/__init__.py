"""Ground-to-satellite links: look angles, the one visibility engine, default masks.

* :mod:`skyfence.links.geometry` — look angles (elevation, azimuth, range), ground points,
  the slant-range bound of a mask, the elevations seen from one place at one instant;
* :mod:`skyfence.links.visibility` — linked (point, satellite, step) pairs and counts under an
  elevation mask and/or a slant-range cut-off, fixed or mobile points, per step or over chunks;
* :mod:`skyfence.links.masks` — the default elevation mask of a constellation;
* :mod:`skyfence.links.targets` — fixed targets near many satellite positions at once (one KD-tree).
"""

from skyfence.links.geometry import (
    GroundFrame,
    east_north,
    elevations_deg,
    frame_elevations_deg,
    ground_frame,
    ground_points,
    look_angles,
    slant_range_bound_km,
)
from skyfence.links.masks import default_min_elevation_deg
from skyfence.links.targets import TargetIndex
from skyfence.links.visibility import Visibility, count_visible, visible_pairs

__all__ = [
    "GroundFrame",
    "TargetIndex",
    "Visibility",
    "count_visible",
    "default_min_elevation_deg",
    "east_north",
    "elevations_deg",
    "frame_elevations_deg",
    "ground_frame",
    "ground_points",
    "look_angles",
    "slant_range_bound_km",
    "visible_pairs",
]
