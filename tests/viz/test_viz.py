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


def test_map_terminals_by_state_sample_stated_and_track(tmp_path):
    """Terminals coloured by state with ever-denied ones marked, the sample size stated in the
    legend, and a mobile track with its first denied time."""
    from matplotlib.figure import Figure

    from skyfence.viz.maps import Track, _draw_terminals, _draw_track

    rng = np.random.default_rng(1)
    lat, lon = 48 + rng.random(50), 30 + rng.random(50)
    states = np.where(lat > 48.5, 2, 1)
    ever = states == 2
    ax = Figure().add_subplot()
    labels = [h.get_label() for h in _draw_terminals(ax, lon, lat, states, ever, 15_000)]
    assert labels[0] == "terminals by majority state\n(50 of 15,000 shown, random sample):"
    assert f"  denied ({int(ever.sum()):,})" in labels and f"  ever denied ({int(ever.sum()):,})" in labels
    t = np.datetime64("2026-04-30T00:00", "ns") + np.arange(6) * np.timedelta64(600, "s")
    track = Track("drone", np.linspace(30, 31, 6), np.full(6, 46.0), np.array([-1, 1, 1, 2, 2, 1]), t)
    _draw_track(ax, track)
    notes = [c.get_text() for c in ax.texts]
    assert notes == ["drone first denied\n2026-04-30 00:30 UTC"]
    out = cell_map(tmp_path / "m.png", region_cells(resolve_region({"lat": 46, "lon": 30.5, "radius_km": 80}), 5),
                   states=None, terminals_lat_deg=lat, terminals_lon_deg=lon, terminal_states=states,
                   terminals_ever_denied=ever, terminals_total=15_000, tracks=[track], figsize_in=(6, 4.5), dpi=80)
    _check_png(out, (480, 360))


def test_run_outputs_positions_utc_and_pictures(tmp_path):
    """terminals.parquet carries each terminal's first present position; every *_utc column is
    UTC-aware; map.png and terminals.png are written."""
    import pandas as pd

    import skyfence

    result = skyfence.run("ukraine-crimea", duration_s=8 * 3600, step_s=1800)  # the drone sails from ~02:00
    result.write(tmp_path)
    terms = pd.read_parquet(tmp_path / "terminals.parquet")
    assert terms[["lat_deg", "lon_deg"]].notna().all().all()
    drone = terms.set_index("id").loc["sea-drone-1"]
    lat, lon = result.ground.terminals.positions(len(result.ground.t_utc))
    k = list(map(str, result.ground.terminals.ids)).index("sea-drone-1")
    first = np.flatnonzero(np.isfinite(lat[k]))[0]
    assert (drone.lat_deg, drone.lon_deg) == (lat[k, first], lon[k, first])
    for frame in (terms, pd.read_parquet(tmp_path / "cells.parquet"), result.timeline):
        for col in [c for c in frame.columns if c.endswith("_utc")]:
            assert str(frame[col].dt.tz) == "UTC", col
    for name in ("map.png", "terminals.png"):
        assert mpimg.imread(tmp_path / name).shape[2] in (3, 4)
