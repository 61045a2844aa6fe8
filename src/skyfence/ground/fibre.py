"""The terrestrial baseline: a fibre laid along the great circle between two places.

The distance is :meth:`skyfence.geo.earth.Ellipsoid.great_circle_km` on the WGS84 mean sphere; light
in fibre (refractive index 1.5) travels at two thirds of its vacuum speed. Real fibre routes are
longer, so the round-trip time is a lower bound.
"""

from __future__ import annotations

import numpy as np

from skyfence.geo.earth import wgs84

__all__ = ["C_KM_S", "C_FIBRE_KM_S", "fibre_rtt_ms"]

#: speed of light in vacuum, km/s
C_KM_S = 299_792.458
#: speed of light in fibre (refractive index 1.5), km/s
C_FIBRE_KM_S = C_KM_S * 2.0 / 3.0


def fibre_rtt_ms(lat1_deg: object, lon1_deg: object, lat2_deg: object, lon2_deg: object) -> np.ndarray:
    """Round-trip time over a great-circle fibre at 2/3 c, ms (arguments broadcast)."""
    return 2.0 * wgs84.great_circle_km(lat1_deg, lon1_deg, lat2_deg, lon2_deg) / C_FIBRE_KM_S * 1000.0
