"""SGP4 propagation over [satellite, time] with ``sgp4``'s vectorized :class:`SatrecArray`.

:func:`propagate` returns an :class:`Ephemeris` that carries arrays shaped
``[n_sat, n_time, 3]``: TEME position and velocity as SGP4 gives them, ECEF (ITRF, WGS84,
via GMST of UT1) and geodetic coordinates computed on demand. SGP4 error codes are kept per
satellite and time (``error``, 0 = fine; 1-6 as in Vallado 2006, e.g. 6 = decayed); positions
where ``error != 0`` are NaN in the ECEF/geodetic results and are counted by
:meth:`Ephemeris.error_counts`, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from sgp4.api import SatrecArray

from skyfence.geo.earth import wgs84
from skyfence.orbits.elements import Elements
from skyfence.orbits.frames import as_utc, julian_date_utc, teme_to_ecef

#: SGP4 error codes (python-sgp4 / Vallado 2006)
SGP4_ERRORS = {
    1: "mean eccentricity out of range",
    2: "mean motion below zero",
    3: "perturbed eccentricity out of range",
    4: "semi-latus rectum below zero",
    5: "epoch elements are sub-orbital",
    6: "satellite has decayed",
}


@dataclass
class Ephemeris:
    """Positions of ``n_sat`` satellites at ``n_time`` instants.

    Attributes
    ----------
    t_utc : datetime64[ns] [n_time]
    names, norad_ids : per satellite
    r_teme_km, v_teme_km_s : float64 [n_sat, n_time, 3], TEME (NaN where SGP4 failed)
    error : int8 [n_sat, n_time], SGP4 error code (0 = fine)
    """

    t_utc: np.ndarray
    names: list[str]
    norad_ids: list[int | None]
    r_teme_km: np.ndarray
    v_teme_km_s: np.ndarray
    error: np.ndarray
    _extra: dict = field(default_factory=dict, repr=False)

    @property
    def n_sat(self) -> int:
        return self.r_teme_km.shape[0]

    @property
    def n_time(self) -> int:
        return self.r_teme_km.shape[1]

    @cached_property
    def r_ecef_km(self) -> np.ndarray:
        """ECEF (ITRF without polar motion, WGS84) positions, km, NaN where ``error != 0``."""
        return teme_to_ecef(self.r_teme_km, self.t_utc)

    def lla(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """WGS84 geodetic ``(lat_deg, lon_deg, alt_km)``, each ``[n_sat, n_time]``."""
        return wgs84.geodetic(self.r_ecef_km)

    def error_counts(self) -> dict[int, int]:
        """How many (satellite, time) samples had each nonzero SGP4 error code."""
        codes, counts = np.unique(self.error[self.error != 0], return_counts=True)
        return {int(c): int(n) for c, n in zip(codes, counts, strict=True)}


def propagate(elements: Elements, t_utc: object, *, chunk_size: int = 2048) -> Ephemeris:
    """Propagate every satellite of ``elements`` to every instant of ``t_utc`` (UTC).

    One :meth:`SatrecArray.sgp4` call per chunk of ``chunk_size`` satellites (to bound
    temporary memory); results are float64 ``[n_sat, n_time, 3]``.
    """
    t = np.atleast_1d(as_utc(t_utc))
    jd, fr = julian_date_utc(t)
    n_sat, n_time = len(elements), len(t)
    r = np.empty((n_sat, n_time, 3))
    v = np.empty((n_sat, n_time, 3))
    err = np.empty((n_sat, n_time), dtype=np.uint8)
    for a in range(0, n_sat, chunk_size):
        b = min(a + chunk_size, n_sat)
        arr = SatrecArray(elements.satrecs[a:b])
        if hasattr(arr, "_sgp4"):
            # python-sgp4's C++ SatrecArray._sgp4 (what its public .sgp4 calls after allocating)
            # writes straight into (contiguous) slices of our outputs: no copies
            arr._sgp4(jd, fr, err[a:b], r[a:b], v[a:b])
        else:  # pure-Python fallback of sgp4 without the C++ extension
            e_c, r[a:b], v[a:b] = arr.sgp4(jd, fr)
            err[a:b] = e_c
    err = err.view(np.int8)
    bad = err != 0
    if bad.any():
        r[bad] = np.nan
        v[bad] = np.nan
    return Ephemeris(t, list(elements.names), list(elements.norad_ids), r, v, err)
