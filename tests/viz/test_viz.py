"""Maps and plots: PNGs are written, decode, have the expected size; antimeridian cells."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest

from skyfence.geo.cells import cell_centres
from skyfence.geo.regions import region_cells, resolve_region
from skyfence.viz.maps import cell_map, cell_polygons
from skyfence.viz.plots import states_over_time, time_series


def _check_png(path, size_px):
    assert path.is_file() and path.stat().st_size > 5_000
    img = mpimg.imread(path)
    assert img.shape[:2] == (size_px[1], size_px[0])
    assert np.ptp(img[..., :3]) > 0.3  # not a blank image


def test_cell_map_states_geofences_terminals(tmp_path):
    crimea = resolve_region("B89")
    cells = region_cells(resolve_region(["UKR", "B89"]), 4)
    lat, lon = cell_centres(cells)
    states = np.where(lat < 46, 2, 1)
    states[::17] = 0
    out = cell_map(tmp_path / "sub" / "map.png", cells, states=states, title="Ukraine",
                   geofences={"crimea": crimea},
                   terminals_lat_deg=lat[:20], terminals_lon_deg=lon[:20],
                   terminal_states=states[:20], figsize_in=(6, 4.5), dpi=80)
    _check_png(out, (480, 360))


def test_cell_map_values_and_antimeridian(tmp_path):
    fiji = resolve_region("FJI")
    cells = region_cells(fiji, 5)
    out = cell_map(tmp_path / "fiji.png", cells, values=np.linspace(0, 1, len(cells)),
                   value_label="denied fraction", title="Fiji", geofences={"fiji": fiji},
                   figsize_in=(5, 4), dpi=60)
    _check_png(out, (300, 240))
    polys, centre_lon = cell_polygons(cells)
    assert (centre_lon < 0).any() and (centre_lon > 0).any()
    # no polygon is smeared across the map: every cell spans well under a degree
    assert max(float(np.ptp(p[:, 0])) for p in polys) < 1.0
    with pytest.raises(ValueError):
        cell_map(tmp_path / "x.png", cells, states=np.ones(len(cells)), values=np.ones(len(cells)))


def test_states_over_time_and_series(tmp_path):
    t = np.datetime64("2026-04-30T00:00", "ns") + np.arange(100) * np.timedelta64(60, "s")
    counts = {"served": np.full(100, 70), "denied": np.arange(100) % 20,
              "uncovered": 30 - np.arange(100) % 20, "absent": np.zeros(100)}
    out = states_over_time(tmp_path / "p.png", t, counts, title="terminals", figsize_in=(6, 3),
                           dpi=50)
    _check_png(out, (300, 150))
    out = states_over_time(tmp_path / "q.png", t, counts, stacked=False, share=True,
                           figsize_in=(6, 3), dpi=50)
    _check_png(out, (300, 150))
    out = time_series(tmp_path / "r.png", t, {"served": np.linspace(0, 1, 100)},
                      figsize_in=(6, 3), dpi=50)
    _check_png(out, (300, 150))
    with pytest.raises(ValueError):
        states_over_time(tmp_path / "bad.png", t, {"served": np.ones(5)})
