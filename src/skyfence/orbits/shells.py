"""Walker-delta shells from parameters, and named presets from public filings.

A Walker-delta shell ``i: t/p/f`` has ``p`` planes of ``s = t/p`` satellites, planes spread
evenly in right ascension over 360 deg, satellites evenly in mean anomaly, and plane ``j``
shifted in phase by ``j * f * 360 / t`` deg. Satellite ids are plane-major
(``id = plane * s + index``), as in Hypatia.

Mean motion follows from the altitude **under SGP4's own theory**: a Keplerian mean motion for
the filed altitude is refined so that the orbit-averaged geocentric radius of the propagated
SGP4 orbit minus the WGS84 equatorial radius equals the filed altitude (J2 makes Kozai's mean
motion differ from Kepler's). A hand-set mean motion such as Hypatia's 15.19 rev/day for
Starlink-550 puts the shell near 509 km.

Sources of the preset numbers
------------------------------
* ``starlink-gen1``: SpaceX Gen1 FCC modification (IBFS SAT-MOD-20200417-00037, granted April
  2021): 72x22 at 550 km / 53.0 deg; 72x22 at 540 km / 53.2 deg; 36x20 at 570 km / 70 deg;
  6x58 and 4x43 at 560 km / 97.6 deg (4,408 satellites). Minimum user elevation 25 deg.
* ``starlink-550``: the first of those shells (72x22, 550 km, 53 deg), as used by Hypatia.
* ``kuiper-630``: Amazon Kuiper FCC authorisation (FCC 20-102, July 2020), first shell 34x34 at
  630 km / 51.9 deg; minimum elevation 35 deg.
* ``oneweb``: OneWeb phase 1 as filed with the FCC (SAT-LOI-20160428-00041): 18 planes x 36 =
  648 satellites at 1,200 km, 87.9 deg. Minimum elevation 55 deg is quoted in the filing's
  technical annex. skyfence's default masks: :func:`skyfence.links.default_min_elevation_deg`.
* ``telesat``: Telesat Lightspeed (FCC modification SAT-MPL-20200526-00053, 2020): 78 polar
  satellites (6x13) at 1,015 km / 98.98 deg and 220 inclined (20x11) at 1,325 km / 50.88 deg.
  Minimum elevation 10 deg.
* ``sso-500``: a generic sun-synchronous imaging constellation (not a filing): 10 planes x 20 at
  500 km, inclination solved for a sun-synchronous node (see below), planes from a 09:00 local time
  of the ascending node spread over 90 deg of right ascension (09:00 to 14:24).

Sun-synchronous shells (``Shell.ltan_h`` set): the inclination is solved so that SGP4's own secular
node rate (``Satrec.nodedot``, J2 and J4 of WGS-72) equals the Sun's mean motion in right ascension,
:data:`SUN_MEAN_MOTION_DEG_DAY` (360 deg per tropical year, 0.98565 deg/day), and the first plane's
right ascension of the ascending node is that of the mean Sun at the epoch plus ``15 deg/h *
(ltan_h - 12)`` (mean local time; the mean Sun's right ascension is its mean longitude
``280.460 + 0.9856474 d`` deg, ``d`` days from J2000, Astronomical Almanac low-precision formula).
Phasing factors are not in the filings; ``f = 1`` (Kuiper as Hypatia: half-slot offset between
adjacent planes is Hypatia's choice and available via ``phase_offset=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sgp4.api import WGS72, Satrec, SatrecArray

from skyfence.errors import ElementsError
from skyfence.geo.earth import wgs84
from skyfence.orbits.elements import Elements
from skyfence.orbits.frames import as_utc

MU_WGS72_KM3_S2 = 398600.8
#: the mean Sun's motion in right ascension, deg/day (360 deg per tropical year of 365.2422 days)
SUN_MEAN_MOTION_DEG_DAY = 360.0 / 365.2422
#: default epoch of generated shells (UTC)
DEFAULT_EPOCH = "2026-01-01T00:00:00"
_SGP4_EPOCH0 = np.datetime64("1949-12-31T00:00:00", "ns")


@dataclass(frozen=True)
class Shell:
    """One Walker-delta shell."""

    planes: int
    sats_per_plane: int
    altitude_km: float
    inclination_deg: float
    phasing: int = 1
    phase_offset: bool = False  # Hypatia's half-slot shift of odd planes (overrides phasing)
    name: str = "shell"
    raan_spread_deg: float = 360.0
    eccentricity: float = 1e-7
    #: local time (hours) of the ascending node of plane 0: a sun-synchronous shell whose
    #: inclination is solved (``inclination_deg`` is then ignored; see the module doc)
    ltan_h: float | None = None



PRESETS: dict[str, list[Shell]] = {
    "starlink-gen1": [
        Shell(72, 22, 550.0, 53.0, name="starlink-550"),
        Shell(72, 22, 540.0, 53.2, name="starlink-540"),
        Shell(36, 20, 570.0, 70.0, name="starlink-570"),
        Shell(6, 58, 560.0, 97.6, name="starlink-560-6"),
        Shell(4, 43, 560.0, 97.6, name="starlink-560-4"),
    ],
    "starlink-550": [Shell(72, 22, 550.0, 53.0, name="starlink-550")],
    "kuiper-630": [Shell(34, 34, 630.0, 51.9, phase_offset=True, name="kuiper-630")],
    "oneweb": [Shell(18, 36, 1200.0, 87.9, name="oneweb")],
    "sso-500": [Shell(10, 20, 500.0, 97.4, ltan_h=9.0, raan_spread_deg=90.0, name="sso-500")],
    "telesat": [
        Shell(6, 13, 1015.0, 98.98, name="telesat-polar"),
        Shell(20, 11, 1325.0, 50.88, name="telesat-inclined"),
    ],
}

def _epoch_days(epoch_utc: object) -> tuple[float, float, float]:
    t = as_utc(epoch_utc)[0]
    days = (t - _SGP4_EPOCH0).astype("int64") / 86_400e9
    return days, *_jd_split(t)


def _jd_split(t: np.datetime64) -> tuple[float, float]:
    ns = int(t.astype("int64"))
    d, r = divmod(ns, 86_400 * 10**9)
    return d + 2440587.5, r / (86_400 * 10**9)


def _satrec(satnum: int, epoch_days: float, inc: float, raan: float, ma: float, no: float, ecc: float) -> Satrec:
    sat = Satrec()
    sat.sgp4init(WGS72, "i", satnum, epoch_days, 0.0, 0.0, 0.0, ecc, 0.0,
                 np.radians(inc), np.radians(ma), no, np.radians(raan))  # fmt: skip
    return sat


def mean_altitude_km(sat: Satrec, n_samples: int = 128) -> float:
    """Orbit-averaged SGP4 geocentric radius minus the WGS84 equatorial radius (km)."""
    period_min = 2 * np.pi / sat.no_kozai
    tsince = np.linspace(0.0, period_min, n_samples, endpoint=False)
    jd = np.full(n_samples, sat.jdsatepoch)
    fr = sat.jdsatepochF + tsince / 1440.0
    e, r, _ = SatrecArray([sat]).sgp4(jd, fr)
    if np.any(e):
        raise ElementsError(f"SGP4 error {int(e.max())} while sizing a shell")
    return float(np.linalg.norm(r[0], axis=-1).mean() - wgs84.semi_major_km)


def mean_motion_for_altitude(altitude_km: float, inclination_deg: float, epoch_utc: object = DEFAULT_EPOCH,
                             eccentricity: float = 1e-7) -> float:
    """Kozai mean motion (rad/min) whose SGP4 orbit has the given mean altitude (see module doc)."""
    if not 100.0 <= altitude_km <= 50_000.0:
        raise ElementsError(f"shell altitude {altitude_km} km is outside 100..50,000 km")
    days, _, _ = _epoch_days(epoch_utc)
    target_r = wgs84.semi_major_km + altitude_km
    a = target_r
    for _ in range(6):
        no = np.sqrt(MU_WGS72_KM3_S2 / a**3) * 60.0
        sat = _satrec(0, days, inclination_deg, 0.0, 0.0, no, eccentricity)
        err = (wgs84.semi_major_km + mean_altitude_km(sat)) - target_r
        if abs(err) < 1e-6:
            break
        a -= err
    return float(np.sqrt(MU_WGS72_KM3_S2 / a**3) * 60.0)


def mean_sun_ra_deg(epoch_utc: object) -> float:
    """Right ascension (deg, [0, 360)) of the mean Sun: its mean longitude ``280.460 + 0.9856474 d``
    (``d`` days from J2000 UT), Astronomical Almanac low-precision formula."""
    t = as_utc(epoch_utc)[0]
    d = (t - np.datetime64("2000-01-01T12:00:00", "ns")).astype("int64") / 86_400e9
    return float((280.460 + 0.9856474 * d) % 360.0)


def sun_synchronous_inclination_deg(altitude_km: float, epoch_utc: object = DEFAULT_EPOCH,
                                    eccentricity: float = 1e-7) -> float:
    """Inclination (deg, > 90) whose SGP4 secular node rate equals :data:`SUN_MEAN_MOTION_DEG_DAY`
    for a shell of mean altitude ``altitude_km`` (SGP4 mean motion as :func:`mean_motion_for_altitude`)."""
    from scipy.optimize import brentq

    days, _, _ = _epoch_days(epoch_utc)
    target = np.radians(SUN_MEAN_MOTION_DEG_DAY) / 1440.0  # rad/min

    def rate_error(inc: float, no: float) -> float:
        return _satrec(0, days, inc, 0.0, 0.0, no, eccentricity).nodedot - target

    inc = 97.0
    for _ in range(4):  # the mean motion for an altitude depends slightly on the inclination
        no = mean_motion_for_altitude(altitude_km, inc, epoch_utc, eccentricity)
        if rate_error(179.9, no) < 0.0:
            raise ElementsError(f"no sun-synchronous inclination at {altitude_km} km")
        inc = float(brentq(rate_error, 90.0, 179.9, args=(no,), xtol=1e-10))
    return inc


def walker_elements(shells: list[Shell], *, epoch_utc: object = DEFAULT_EPOCH, first_satnum: int = 1):
    """Elements of one or more Walker-delta shells (plane-major ids, no NORAD ids)."""
    days, _, _ = _epoch_days(epoch_utc)
    names, sats, layout = [], [], []
    satnum = first_satnum
    for sh in shells:
        if sh.planes < 1 or sh.sats_per_plane < 1:
            raise ElementsError(f"shell {sh.name}: planes and satellites per plane must be >= 1")
        if not 0.0 <= sh.inclination_deg <= 180.0:
            raise ElementsError(f"shell {sh.name}: inclination {sh.inclination_deg} deg outside 0..180")
        inc, raan0 = sh.inclination_deg, 0.0
        if sh.ltan_h is not None:
            inc = sun_synchronous_inclination_deg(sh.altitude_km, epoch_utc, sh.eccentricity)
            raan0 = mean_sun_ra_deg(epoch_utc) + 15.0 * (sh.ltan_h - 12.0)
        no = mean_motion_for_altitude(sh.altitude_km, inc, epoch_utc, sh.eccentricity)
        total = sh.planes * sh.sats_per_plane
        for p in range(sh.planes):
            raan = raan0 + sh.raan_spread_deg * p / sh.planes
            for k in range(sh.sats_per_plane):
                ma = 360.0 * k / sh.sats_per_plane
                if sh.phase_offset:
                    ma += (180.0 / sh.sats_per_plane) if p % 2 == 1 else 0.0
                else:
                    ma += 360.0 * sh.phasing * p / total
                sats.append(_satrec(satnum % 100000, days, inc, raan % 360.0, ma % 360.0, no, sh.eccentricity))
                names.append(f"{sh.name}-{p}-{k}")
                satnum += 1
        layout.append((sh.planes, sh.sats_per_plane))
    return Elements(names, [None] * len(sats), sats, source="walker", shells=layout)


def preset_elements(name: str, *, epoch_utc: object | None = None):
    """Elements of a named preset (see :data:`PRESETS`)."""
    shells = PRESETS[name.lower()]
    els = walker_elements(shells, epoch_utc=epoch_utc or DEFAULT_EPOCH)
    els.source = name.lower()
    return els
