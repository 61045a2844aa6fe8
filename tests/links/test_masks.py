"""The default elevation mask of a constellation, and that every analysis takes it from one place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skyfence.links import default_min_elevation_deg
from skyfence.links.masks import FALLBACK_MIN_ELEVATION_DEG, MIN_ELEVATION_DEG_BY_FAMILY


@pytest.mark.parametrize(
    ("spec", "mask_deg"),
    [
        ("starlink", 25.0),
        ("starlink-gen1", 25.0),
        ("Kuiper-630", 35.0),
        ("oneweb", 55.0),
        ("telesat", 10.0),
        (Path("snapshots/kuiper-2026.tle"), 35.0),
        ("my-own.tle", FALLBACK_MIN_ELEVATION_DEG),
    ],
)
def test_mask_by_name(spec, mask_deg):
    assert default_min_elevation_deg(spec) == mask_deg


def test_mask_of_elements_and_the_fallback():
    from skyfence.orbits.catalog import load_elements

    assert default_min_elevation_deg(load_elements("kuiper-630")) == 35.0
    assert default_min_elevation_deg(load_elements("oneweb")) == 55.0
    assert FALLBACK_MIN_ELEVATION_DEG == MIN_ELEVATION_DEG_BY_FAMILY["starlink"] == 25.0


def test_latency_over_kuiper_uses_its_mask_by_default():
    from skyfence.network.latency import latency

    kw = {"stations": "top-100", "start_utc": "2026-04-30T12:00:00Z", "duration_s": 1.0,
          "step_s": 1.0, "isl": "plus-grid"}
    pairs = [("Tokyo", "London"), ("Paris", "New-York-Newark"), ("Lagos", "Delhi")]
    default = latency("kuiper-630", pairs, **kw)
    at_35 = latency("kuiper-630", pairs, min_elevation_deg=35.0, **kw)
    at_25 = latency("kuiper-630", pairs, min_elevation_deg=25.0, **kw)
    np.testing.assert_array_equal(default.rtt_ms, at_35.rtt_ms)
    assert default.path_strings().tolist() == at_35.path_strings().tolist()
    assert default.path_strings().tolist() != at_25.path_strings().tolist()
