"""Imaging sensors: when a satellite can image a ground point, as one signed margin in degrees.

Three kinds (parameters per satellite group):

* ``optical``: the target within ``max_off_nadir_deg`` of the satellite's nadir (the field of
  regard's half angle, pointing included) and the Sun at least ``min_sun_elevation_deg`` above
  the target's horizon (``None``: no Sun constraint);
* ``sar``: the look angle (the off-nadir angle of the line of sight) within ``look_angle_deg =
  (min, max)``, on the ``side`` ``"right"``, ``"left"`` or ``"both"`` of the ground track; no Sun;
* ``elevation``: the satellite at least ``min_elevation_deg`` above the target's horizon.

Every kind also needs the satellite above ``min_elevation_deg`` (default 0: above the horizon).

Geometry (ECEF, km): ``d = sat - target``; elevation against the target's geodetic vertical (as
:mod:`skyfence.links.geometry`); **off-nadir angle** = angle between ``target - sat`` and the
satellite's geodetic nadir (minus the WGS84 ellipsoid normal at the sub-satellite point, TAT-C's
default ``nadir_reference``); **side**: the sign of ``(target - sat) . (v x r)`` with ``v`` the
satellite's inertial velocity expressed in Earth-fixed axes (+ right of the track, - left).

:func:`margin_deg` is positive exactly when the sensor can image: the minimum of the constraints'
margins (e.g. ``max_off_nadir_deg - off_nadir_deg``), a continuous function of time whose roots
are the access ends (see :mod:`skyfence.imaging.access`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skyfence.errors import ScenarioError

__all__ = ["Sensor", "KINDS", "SIDES", "sensor_from_dict", "SensorTable", "margin_deg"]

KINDS = ("optical", "sar", "elevation")
SIDES = ("right", "left", "both")


@dataclass(frozen=True)
class Sensor:
    """One sensor (see the module doc for the meaning of each field)."""

    kind: str = "optical"
    max_off_nadir_deg: float = 30.0
    min_sun_elevation_deg: float | None = None
    look_angle_deg: tuple[float, float] = (15.0, 45.0)
    side: str = "both"
    min_elevation_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ScenarioError(f"sensor kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.side not in SIDES:
            raise ScenarioError(f"sensor side must be one of {', '.join(SIDES)}, got {self.side!r}")
        if not 0.0 < self.max_off_nadir_deg < 90.0:
            raise ScenarioError(f"max_off_nadir_deg must be in (0, 90), got {self.max_off_nadir_deg}")
        lo, hi = self.look_angle_deg
        if not 0.0 <= lo < hi < 90.0:
            raise ScenarioError(f"look_angle_deg must be [min, max] with 0 <= min < max < 90, got {[lo, hi]}")
        if not -90.0 <= self.min_elevation_deg < 90.0:
            raise ScenarioError(f"min_elevation_deg must be in [-90, 90), got {self.min_elevation_deg}")

    @property
    def max_look_deg(self) -> float:
        """Largest off-nadir angle at which this sensor can image (90 for ``elevation``)."""
        return {"optical": self.max_off_nadir_deg, "sar": self.look_angle_deg[1]}.get(self.kind, 90.0)


_SENSOR_KEYS = {"kind": str, "max_off_nadir_deg": (int, float), "min_sun_elevation_deg": (int, float),
                "look_angle_deg": list, "side": str, "min_elevation_deg": (int, float)}


def sensor_from_dict(data: dict, where: str = "sensor") -> Sensor:
    """A :class:`Sensor` from a scenario table; unknown keys and bad types raise ScenarioError."""
    for key, value in data.items():
        if key not in _SENSOR_KEYS:
            raise ScenarioError(f"{where}: unknown key {key!r} (allowed: {', '.join(_SENSOR_KEYS)})")
        if not isinstance(value, _SENSOR_KEYS[key]) or isinstance(value, bool):
            raise ScenarioError(f"{where}.{key}: bad value {value!r}")
    kw = dict(data)
    if "look_angle_deg" in kw:
        la = kw["look_angle_deg"]
        if len(la) != 2:
            raise ScenarioError(f"{where}.look_angle_deg: give [min, max], got {la!r}")
        kw["look_angle_deg"] = (float(la[0]), float(la[1]))
    try:
        return Sensor(**kw)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class SensorTable:
    """The sensor of every satellite as parallel arrays (``[n_sat]``), for vectorized margins."""

    kind: np.ndarray  # int8: index into KINDS
    max_off_nadir_deg: np.ndarray
    min_sun_elevation_deg: np.ndarray  # -inf: no Sun constraint
    look_min_deg: np.ndarray
    look_max_deg: np.ndarray
    side: np.ndarray  # +1 right, -1 left, 0 both
    min_elevation_deg: np.ndarray

    @classmethod
    def of(cls, sensors: list[Sensor]) -> SensorTable:
        def arr(f):
            return np.array([f(s) for s in sensors], dtype=float)

        return cls(
            kind=np.array([KINDS.index(s.kind) for s in sensors], dtype=np.int8),
            max_off_nadir_deg=arr(lambda s: s.max_off_nadir_deg),
            min_sun_elevation_deg=arr(lambda s: -np.inf if s.kind != "optical" or s.min_sun_elevation_deg is None
                                      else s.min_sun_elevation_deg),
            look_min_deg=arr(lambda s: s.look_angle_deg[0]),
            look_max_deg=arr(lambda s: s.look_angle_deg[1]),
            side=np.array([{"right": 1, "left": -1, "both": 0}[s.side] for s in sensors], dtype=np.int8),
            min_elevation_deg=arr(lambda s: s.min_elevation_deg),
        )

    @property
    def needs_nadir(self) -> bool:
        return bool(np.any(self.kind != KINDS.index("elevation")))

    @property
    def needs_sun(self) -> bool:
        return bool(np.any(np.isfinite(self.min_sun_elevation_deg)))

    @property
    def needs_side(self) -> bool:
        return bool(np.any((self.kind == KINDS.index("sar")) & (self.side != 0)))


def margin_deg(table: SensorTable, sat: np.ndarray, elevation_deg: np.ndarray, off_nadir_deg: np.ndarray | None,
               side: np.ndarray | None, sun_elevation_deg: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(margin, sun_margin)`` in degrees for rows of satellite indices ``sat`` (into ``table``).

    ``margin > 0`` iff the sensor can image; ``sun_margin`` is the Sun constraint's own margin
    (``+inf`` where there is none), used to skip searching for accesses at night.
    """
    m = elevation_deg - table.min_elevation_deg[sat]
    kind = table.kind[sat]
    sun_m = np.full(len(sat), np.inf)
    if off_nadir_deg is not None:
        opt = kind == 0
        if opt.any():
            m = np.where(opt, np.minimum(m, table.max_off_nadir_deg[sat] - off_nadir_deg), m)
        sar = kind == 1
        if sar.any():
            sd = table.side[sat]
            signed = off_nadir_deg if side is None else np.where(sd == 0, off_nadir_deg, off_nadir_deg * side * sd)
            look_m = np.minimum(signed - table.look_min_deg[sat], table.look_max_deg[sat] - signed)
            m = np.where(sar, np.minimum(m, look_m), m)
    if sun_elevation_deg is not None:
        sun_m = sun_elevation_deg - table.min_sun_elevation_deg[sat]
        m = np.minimum(m, sun_m)
    return m, sun_m
