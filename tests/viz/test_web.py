"""The run and latency pages (``skyfence run/latency --html`` / ``skyfence view``) in a real browser:
headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright for Python; skipped with the
reason when either is missing. Expected states come from the run's own arrays (what
``cells.parquet`` / ``terminal_states.parquet`` summarise); the page is read back through
``window.__skyfence``. The run has a 15,000-terminal fleet, so that stepping the slider is
timed at that size; load and step timings are written to ``timings.json`` in the test's folder."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

import skyfence
from skyfence.cli import main
from skyfence.coverage.stats import STATE_NAMES
from skyfence.errors import SkyfenceError
from skyfence.policy.cedar import cedar_answer, load_policies
from skyfence.service.scenario import example_path
from skyfence.viz.web import (
    VIEW_FILES,
    deciding_labels,
    page_html,
    read_view_files,
    run_view_files,
    state_events,
    view_server,
    write_view,
)

CHROMIUM = Path("/usr/bin/chromium")
EX = example_path("ukraine-crimea").parent
#: a high elevation mask so that cells and terminals change state from step to step
SCENARIO = f"""
    name = "web-view"
    [constellation]
    elements = "starlink"
    min_elevation_deg = 70
    [time]
    start = "2026-04-30T06:00:00Z"
    duration_s = 2400
    step_s = 60
    [ground]
    region = ["UKR", "crimea", "black_sea_zone"]
    h3_resolution = 4
    terminals = "{EX / 'terminals.csv'}"
    tracks = "{EX / 'drone_track.csv'}"
    fleet = {{ n = 15000, seed = 3, group = "civil" }}
    [regions]
    crimea = "B89"
    black_sea_zone = {{ polygon = [[30.5, 43.0], [36.5, 43.0], [36.5, 44.9], [30.5, 45.6]] }}
    [policy]
    files = ["{EX.parent.parent / 'data' / 'policies' / 'ukraine-crimea.cedar'}"]
"""


def test_state_events_expand_back():
    rng = np.random.default_rng(1)
    states = rng.integers(0, 4, size=(7, 30)).astype(np.int8)
    states[2] = 1  # a row that never changes: one event
    ev = state_events(states).to_pydict()
    back = np.full(states.shape, -1, np.int8)
    for k, (r, s, v) in enumerate(zip(ev["row"], ev["step"], ev["state"], strict=True)):
        end = ev["step"][k + 1] if k + 1 < len(ev["row"]) and ev["row"][k + 1] == r else states.shape[1]
        back[r, s:end] = v
    assert (back == states).all()
    assert ev["row"].count(2) == 1


def test_view_needs_view_data(tmp_path):
    with pytest.raises(SkyfenceError, match="--html"):
        read_view_files(tmp_path)
    assert main(["view", str(tmp_path)]) == 2


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    (tmp / "s.toml").write_text(textwrap.dedent(SCENARIO))
    result = skyfence.run(tmp / "s.toml")
    out = tmp / "out"
    result.write(out)
    write_view(run_view_files(result), out)
    return out, result


def test_view_files_and_page(run_dir):
    out, result = run_dir
    assert sorted(p.name for p in (out / "view").iterdir()) == sorted(VIEW_FILES["run"])
    meta = json.loads((out / "view" / "meta.json").read_text())
    assert meta["time"]["steps"] == result.decisions.cell_states.shape[1]
    assert {f["properties"]["name"] for f in meta["geofences"]["features"]} == {"crimea", "black_sea_zone"}
    html = (out / "index.html").read_text()
    assert "<script src" not in html and 'rel="stylesheet"' not in html  # everything inline
    assert '<script src="app.js">' in page_html()  # the served page loads its assets
    # `skyfence view --html` rewrites the page from the view data alone
    (out / "index.html").unlink()
    assert main(["view", str(out), "--html"]) == 0
    assert (out / "index.html").stat().st_size > 1_000_000


def test_view_data_names_the_deciding_policies(run_dir):
    """terminal_events.arrow's ``reason`` at sampled (terminal, step): cedarpy's diagnostics.reasons."""
    import pyarrow as pa

    out, result = run_dir
    meta = json.loads((out / "view" / "meta.json").read_text())
    ev = pa.ipc.open_stream((out / "view" / "terminal_events.arrow").read_bytes()).read_all().to_pandas()
    states = result.decisions.terminal_states
    rng = np.random.default_rng(5)
    drone = result.terminals["id"].tolist().index("sea-drone-1")
    picks = [(drone, t) for t in range(states.shape[1])] + [tuple(x) for x in rng.integers(0, states.shape, (40, 2))]
    policy = load_policies(result.scenario.policy_files, base_dir=result.scenario.base_dir)
    seen = set()
    for k, t in picks:
        if states[k, t] == 3:  # absent: no request
            continue
        rows = ev[(ev["row"] == k) & (ev["step"] <= t)]
        reason = int(rows["reason"].iloc[-1])
        allowed, reasons = _cedar_answer(result, k, t)
        assert meta["deciding"][reason] == deciding_labels([policy.explain(reasons)])[0], (k, t)
        assert allowed == bool(result.decisions.terminal_allowed[k, t])
        seen.add(reasons)
    assert ("policy0",) in seen and any(r and r != ("policy0",) for r in seen)  # served and geofenced


def test_state_events_with_reasons():
    states = np.array([[1, 1, 2, 2], [0, 0, 0, 0]], np.int8)
    reasons = np.array([[0, 1, 1, 2], [0, 0, 0, 0]], np.int16)
    ev = state_events(states, reasons).to_pydict()
    assert list(zip(ev["row"], ev["step"], ev["state"], ev["reason"], strict=True)) == [
        (0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 2, 1), (0, 3, 2, 2), (1, 0, 0, 0)]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        # WebGL on SwiftShader, Chromium's software renderer in headless mode
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--enable-unsafe-swiftshader"])
        yield b
        b.close()


def _open(browser, url: str):
    """A page at ``url`` once ready, with the console errors and the URLs it requested."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    page.wait_for_function("window.__skyfence && (window.__skyfence.ready || window.__skyfence.error)", timeout=90_000)
    assert page.evaluate("window.__skyfence.error") is None
    return page, errors, requests


def _offsite(requests: list[str], url: str) -> list[str]:
    origin = urlparse(url).netloc
    return [u for u in requests if urlparse(u).netloc != origin and not u.startswith("data:")]


def _record(tmp_path, **timings) -> None:
    """Timings of this test, in ``timings.json`` and on stdout (``pytest -s``)."""
    (tmp_path / "timings.json").write_text(json.dumps(timings, indent=1))
    print(json.dumps(timings))


def _set_step(page, t: int) -> None:
    page.eval_on_selector("#slider", "(el, t) => { el.value = String(t); el.dispatchEvent(new Event('input')); }", t)
    assert page.evaluate("window.__skyfence.step()") == t


def _cedar_answer(result, k: int, t: int) -> tuple[bool, tuple[str, ...]]:
    """cedarpy's answer (allowed, diagnostics.reasons) for terminal row ``k``'s request at step ``t``,
    built from the run's ground as skyfence.service.simulate describes it (the H3 cell holding the
    terminal's position, the regions holding the position itself, its ground speed)."""
    from skyfence.geo.cells import cell_of

    ground = result.ground
    terms, n_t = ground.terminals, len(ground.t_utc)
    lat, lon = (np.atleast_2d(a)[k, t] for a in terms.positions(n_t))
    speed = np.nan_to_num(terms.speeds_kmh(n_t)[k, t]) if terms.mobile else 0.0
    regions = ground.regions.point_region_names(np.array([lat]), np.array([lon]))[0]
    cell = int(cell_of(np.array([lat]), np.array([lon]), ground.regions.resolution)[0])
    policy = load_policies(result.scenario.policy_files, base_dir=result.scenario.base_dir)
    return cedar_answer(policy, str(terms.ids[k]), terms.groups[k], cell, regions, ground.t_utc[t], speed)


def _changes(states: np.ndarray) -> tuple[int, np.ndarray]:
    """The step at which most rows change state, and those rows."""
    n = (states[:, 1:] != states[:, :-1]).sum(axis=0)
    t = int(n.argmax()) + 1
    return t, np.flatnonzero(states[:, t] != states[:, t - 1])


@pytest.fixture(scope="module")
def served(run_dir):
    out, _ = run_dir
    server = view_server(out, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_served_page_follows_the_slider(browser, served, run_dir, tmp_path):
    out, result = run_dir
    page, errors, requests = _open(browser, served)
    page.screenshot(path=str(tmp_path / "run-view.png"))
    assert errors == []
    assert _offsite(requests, served) == []
    names = {c: STATE_NAMES[c] for c in STATE_NAMES}
    colors = page.evaluate("window.__skyfence.stateColors")
    cells = result.cells["h3"].tolist()
    ids = result.terminals["id"].tolist()
    for what, states, keys, state_fn, color_fn in (
        ("cell", result.decisions.cell_states, cells, "cellState", "cellColor"),
        ("terminal", result.decisions.terminal_states, ids, "terminalState", "terminalColor"),
    ):
        t, rows = _changes(states)
        sample = np.random.default_rng(0).choice(rows, min(8, len(rows)), replace=False)
        for step in (t - 1, t):
            _set_step(page, step)
            for r in sample:
                want = names[int(states[r, step])]
                assert page.evaluate(f"window.__skyfence.{state_fn}", keys[r]) == want
                assert page.evaluate(f"window.__skyfence.{color_fn}", keys[r]) == colors[what][want], (what, keys[r], step)
    # the drone at the step where it is first denied
    k = ids.index("sea-drone-1")
    first = int(result.terminals["first_denied_step"].iloc[k])
    assert first > 0
    _set_step(page, first)
    assert page.evaluate("window.__skyfence.terminalState('sea-drone-1')") == "denied"
    assert page.evaluate("window.__skyfence.terminalColor('sea-drone-1')") == colors["terminal"]["denied"]
    assert page.evaluate("([id, t]) => window.__skyfence.terminalState(id, t)", ["sea-drone-1", first - 1]) != "denied"
    # hovering the drone: its tooltip names the policies that denied it, Cedar's own diagnostics.reasons
    allowed, reasons = _cedar_answer(result, k, first)
    assert not allowed and reasons
    want = deciding_labels([load_policies(result.scenario.policy_files, base_dir=result.scenario.base_dir).explain(reasons)])[0]
    assert any("geofence" in w for w in want)
    lon, lat = page.evaluate("window.__skyfence.terminalPosition('sea-drone-1')")
    x, y = page.evaluate("([lon, lat]) => window.__skyfence.pagePixel(lon, lat)", [lon, lat])
    page.mouse.move(x, y)
    page.wait_for_selector(".map-tooltip", state="visible", timeout=10_000)
    tip = page.inner_text(".map-tooltip")
    assert "sea-drone-1" in tip and "denied" in tip
    assert f"decided by: {', '.join(want)}" in tip, tip
    assert page.evaluate("window.__skyfence.terminalDecidedBy('sea-drone-1')") == ", ".join(want)
    page.screenshot(path=str(tmp_path / "run-view-drone-denied.png"))
    # a step where the drone is served: the permit that allowed it
    served = int(np.flatnonzero(result.decisions.terminal_states[k] == 1)[0])
    allowed, reasons = _cedar_answer(result, k, served)
    assert allowed
    want = deciding_labels([load_policies(result.scenario.policy_files, base_dir=result.scenario.base_dir).explain(reasons)])[0]
    assert page.evaluate("([id, t]) => window.__skyfence.terminalDecidedBy(id, t)", ["sea-drone-1", served]) == ", ".join(want)
    # a mouse click on a cell's centre selects it: the panel shows its statistics and regions
    crimea = result.cells.loc[result.cells["regions"].map(lambda r: "crimea" in r), "h3"]
    for h3 in (crimea.iloc[len(crimea) // 2], result.cells["h3"].iloc[0]):
        lon, lat = page.evaluate("window.__skyfence.cellCentre", h3)
        x, y = page.evaluate("([lon, lat]) => window.__skyfence.pagePixel(lon, lat)", [lon, lat])
        # the outline canvases draw where deck.gl does
        assert page.evaluate("([lon, lat]) => window.__skyfence.projectBasemap(lon, lat)", [lon, lat]) == pytest.approx(
            page.evaluate("([lon, lat]) => window.__skyfence.project(lon, lat)", [lon, lat]), abs=0.01)
        page.mouse.click(x, y)
        page.wait_for_function("h3 => window.__skyfence.selected() === h3", arg=h3, timeout=10_000)
        text = page.text_content("#selection")
        assert h3 in text and "mean_visible" in text
        assert ("crimea" in text) == (h3 in set(crimea))
    page.evaluate("window.__skyfence.selectCell", crimea.iloc[0])
    assert "crimea" in page.inner_text("#selection")
    # dragging pans the map by the drag; the wheel zooms about the pointer
    here = page.evaluate("([lon, lat]) => window.__skyfence.pagePixel(lon, lat)", [lon, lat])
    page.mouse.move(here[0], here[1])
    page.mouse.down()
    page.mouse.move(here[0] + 60, here[1] + 40, steps=4)
    page.mouse.up()
    next_frame = "() => new Promise((r) => requestAnimationFrame(() => r()))"  # the map redraws once a frame
    page.evaluate(next_frame)
    moved = page.evaluate("([lon, lat]) => window.__skyfence.pagePixel(lon, lat)", [lon, lat])
    assert moved == pytest.approx([here[0] + 60, here[1] + 40], abs=0.5)
    assert page.evaluate("([lon, lat]) => window.__skyfence.projectBasemap(lon, lat)", [lon, lat]) == pytest.approx(
        page.evaluate("([lon, lat]) => window.__skyfence.project(lon, lat)", [lon, lat]), abs=0.01)
    other = page.evaluate("([lon, lat]) => window.__skyfence.pagePixel(lon, lat)", [lon + 1, lat])
    page.mouse.wheel(0, -300)
    page.wait_for_timeout(100)
    page.evaluate(next_frame)
    zoomed = page.evaluate("([lon, lat]) => window.__skyfence.pagePixel(lon, lat)", [lon + 1, lat])
    assert page.evaluate("([lon, lat]) => window.__skyfence.pagePixel(lon, lat)", [lon, lat]) == pytest.approx(moved, abs=1.5)  # the pointer: whole pixels
    assert zoomed[0] - moved[0] == pytest.approx(2 * (other[0] - moved[0]), abs=1.5)  # one zoom level
    assert errors == []
    page.close()


def test_scrubbing_15000_terminals(browser, served, run_dir, tmp_path):
    """Stepping the slider with 15,000 terminals lands on each step with no console error. The
    browser's times (ready, per step JS and frame) are written to the test's output folder as
    figures to read, never asserted: timing belongs to benchmarks/web_view.py."""
    out, result = run_dir
    n = len(result.terminals)
    assert n > 15_000
    page, errors, _ = _open(browser, served)
    ready = page.evaluate("({readyMs: window.__skyfence.readyMs, scriptMs: window.__skyfence.scriptMs, marks: window.__skyfence.marks})")
    steps = list(range(1, min(21, page.evaluate("window.__skyfence.steps"))))
    times = [page.evaluate("t => window.__skyfence.timeStep(t)", t) for t in steps]
    js = sorted(t["js"] for t in times)
    frame = sorted(t["frame"] for t in times)
    _record(tmp_path, terminals=n, cells=len(result.cells), **ready,
            step_js_ms_median=js[len(js) // 2], step_frame_ms_median=frame[len(frame) // 2], step_frame_ms_max=frame[-1])
    assert page.evaluate("window.__skyfence.step()") == steps[-1]
    assert errors == []
    page.close()


def test_file_page_opens_without_a_server(browser, run_dir, tmp_path):
    out, result = run_dir
    url = (out / "index.html").resolve().as_uri()
    page, errors, requests = _open(browser, url)
    page.screenshot(path=str(tmp_path / "run-view-file.png"))
    _record(tmp_path, readyMs=page.evaluate("window.__skyfence.readyMs"), html_bytes=(out / "index.html").stat().st_size)
    assert errors == []
    assert requests == [url]
    h3 = result.cells["h3"].iloc[5]
    _set_step(page, 7)
    assert page.evaluate("window.__skyfence.cellState", h3) == STATE_NAMES[int(result.decisions.cell_states[5, 7])]
    page.close()


HYPATIA = Path(__file__).resolve().parents[1] / "data" / "hypatia-kuiper-630"
LATENCY_ARGS = dict(
    stations=HYPATIA / "ground_stations.txt", isl=HYPATIA / "isls.txt", max_gsl_range_km=1260.0,
    max_isl_length_km=5442.9582030362869, start_utc="2000-01-01T00:00:00Z", earth_rotation="utc",
)  # fmt: skip


@pytest.fixture(scope="module")
def latency_dir(tmp_path_factory):
    from skyfence.network.latency import latency
    from skyfence.viz.web_latency import latency_view_files

    out = tmp_path_factory.mktemp("latency")
    pairs = [("Moscow", "Paris"), ("New-York-Newark", "London")]
    result = latency(str(HYPATIA / "tles.txt"), pairs, duration_s=16, step_s=1, **LATENCY_ARGS)
    files = latency_view_files(result, str(HYPATIA / "tles.txt"), earth_rotation="utc")
    write_view(files, out)
    return out, result


def test_latency_html_cli(tmp_path):
    args = ["latency", "--elements", str(HYPATIA / "tles.txt"), "--isl", str(HYPATIA / "isls.txt"),
            "--ground", str(HYPATIA / "ground_stations.txt"), "--gsl-max-range-km", "1260",
            "--start", "2000-01-01T00:00:00Z", "--from", "Moscow", "--to", "Paris",
            "--duration", "2", "--step", "1", "--html"]  # fmt: skip
    assert main(args) == 2  # --html needs --out
    assert main([*args, "--out", str(tmp_path / "rtt.csv")]) == 0
    meta = json.loads((tmp_path / "view" / "meta.json").read_text())
    assert meta["kind"] == "latency" and meta["time"]["steps"] == 2
    assert [(p["src"], p["dst"]) for p in meta["pairs"]] == [("Moskva-(Moscow)", "Paris")]
    assert (tmp_path / "index.html").stat().st_size > 1_000_000


def test_latency_page(browser, latency_dir, tmp_path):
    from skyfence.geo.earth import wgs84
    from skyfence.network.latency import satellite_ecef_km
    from skyfence.orbits.catalog import load_elements

    out, result = latency_dir
    assert sorted(read_view_files(out)) == sorted(VIEW_FILES["latency"])
    server = view_server(out, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        page, errors, requests = _open(browser, url)
        assert page.evaluate("window.__skyfence.kind") == "latency"
        _record(tmp_path, readyMs=page.evaluate("window.__skyfence.readyMs"))
        page.screenshot(path=str(tmp_path / "latency-view.png"))
        rtt = result.rtt_ms
        for t in (0, 7, 15):
            _set_step(page, t)
            for p in range(rtt.shape[1]):
                assert page.evaluate("([p, t]) => window.__skyfence.rtt(p, t)", [p, t]) == pytest.approx(rtt[t, p], rel=1e-6)
                assert page.evaluate("([p, t]) => window.__skyfence.path(p, t)", [p, t]) == result.routes.path(t, p)
        # the path drawn at the step where pair 1's path changes: its nodes, where they are
        t = int(np.flatnonzero(result.routes.path_hash[1:, 1] != result.routes.path_hash[:-1, 1])[0]) + 1
        page.click("tr.pair[data-p='1'] td:nth-child(2)")
        assert page.evaluate("window.__skyfence.selectedPair()") == 1
        _set_step(page, t)
        drawn = page.evaluate("window.__skyfence.drawnPath()")
        assert [n["node"] for n in drawn] == result.routes.path(t, 1) != result.routes.path(t - 1, 1)
        sats = [n["node"] for n in drawn if n["node"] < result.n_sat]
        r = satellite_ecef_km(load_elements(str(HYPATIA / "tles.txt")).subset(sats), result.t_utc[t : t + 1], earth_rotation="utc")
        lat, lon, _ = wgs84.geodetic(r[:, 0])
        got = [n for n in drawn if n["node"] < result.n_sat]
        assert [n["lat"] for n in got] == pytest.approx(lat, abs=1e-4)
        assert [(n["lon"] + 180) % 360 - 180 for n in got] == pytest.approx(lon, abs=1e-4)
        for n in drawn:
            assert n["px"] == pytest.approx(page.evaluate("([lon, lat]) => window.__skyfence.project(lon, lat)", [n["lon"], n["lat"]]), abs=0.01)
        assert "London" in page.inner_text("#selection")
        page.screenshot(path=str(tmp_path / "latency-view-path.png"))
        assert errors == []
        assert _offsite(requests, url) == []
        page.close()
    finally:
        server.shutdown()
        server.server_close()
    # the self-contained page from the file system
    file_url = (out / "index.html").resolve().as_uri()
    page, errors, requests = _open(browser, file_url)
    assert page.evaluate("window.__skyfence.pairs") == 2
    assert errors == [] and requests == [file_url]
    page.close()


@pytest.fixture(scope="module")
def impact_dir(tmp_path_factory):
    """``skyfence impact --policy allow-all --html`` on the run's scenario (a smaller fleet, 15 steps)."""
    tmp = tmp_path_factory.mktemp("impact")
    (tmp / "s.toml").write_text(textwrap.dedent(SCENARIO).replace("n = 15000", "n = 300"))
    out = tmp / "out"
    assert main(["impact", str(tmp / "s.toml"), "--policy", "allow-all", "--html"]) == 2  # needs --out
    assert main(["impact", str(tmp / "s.toml"), "--policy", "allow-all", "--duration", "900",
                 "--out", str(out), "--html"]) == 0  # fmt: skip
    return out


def test_impact_page_before_and_after(browser, impact_dir, run_dir, tmp_path):
    out = impact_dir
    _, result = run_dir  # the same scenario as things stand: its cell states are "before"
    report = json.loads((out / "impact.json").read_text())
    assert report["restored"]["cells"] > 0
    url = (out / "index.html").resolve().as_uri()
    page, errors, requests = _open(browser, url)
    assert page.evaluate("window.__skyfence.kind") == "impact"
    assert page.evaluate("window.__skyfence.steps") == 15
    page.screenshot(path=str(tmp_path / "impact-view.png"))
    before = result.decisions.cell_states[:, :15]
    row = {h: i for i, h in enumerate(result.cells["h3"])}
    t = int(((before == 2).sum(axis=0)).argmax())
    _set_step(page, t)
    changed = page.evaluate("window.__skyfence.changedCells()")
    # under allow-all every denied cell is served: exactly the cells denied before change
    assert sorted(changed) == sorted(h for h, i in row.items() if before[i, t] == 2)
    for h in changed[:10]:
        assert page.evaluate("window.__skyfence.cellState", h) == "served"
        assert page.evaluate("window.__skyfence.cellColor", h) == page.evaluate("window.__skyfence.stateColors.cell.served")
    page.click("#version-before")
    assert page.evaluate("window.__skyfence.version()") == "before"
    for h in changed[:10]:
        assert page.evaluate("window.__skyfence.cellState", h) == "denied"
        assert page.evaluate("window.__skyfence.cellColor", h) == page.evaluate("window.__skyfence.stateColors.cell.denied")
    page.screenshot(path=str(tmp_path / "impact-view-before.png"))
    drone = result.terminals.set_index("id").loc["sea-drone-1", "first_denied_step"]
    _set_step(page, int(drone))
    assert page.evaluate("window.__skyfence.terminalState('sea-drone-1')") == "denied"
    assert "sea-drone-1" in page.evaluate("window.__skyfence.changedTerminals()")
    # the deciding policies of each version: the current policy's geofence, then the new policy's permit
    _, reasons = _cedar_answer(result, result.terminals["id"].tolist().index("sea-drone-1"), int(drone))
    want = deciding_labels([load_policies(result.scenario.policy_files, base_dir=result.scenario.base_dir).explain(reasons)])[0]
    assert page.evaluate("window.__skyfence.terminalDecidedBy('sea-drone-1')") == ", ".join(want)
    page.click("#version-after")
    assert page.evaluate("window.__skyfence.terminalState('sea-drone-1')") == "served"
    assert page.evaluate("window.__skyfence.terminalDecidedBy('sea-drone-1')") == "allow-all.cedar:3 (allow-all)"
    assert "restored" in page.inner_text("#summary").lower()
    assert errors == [] and requests == [url]
    page.close()


def test_revisit_page(browser, tmp_path):
    """``skyfence revisit --html``: cells coloured by the chosen statistic, targets observed at a step."""
    import pandas as pd

    from skyfence.service.scenario import examples_dir

    out = tmp_path / "out"
    scenario = examples_dir() / "taiwan-strait-watch" / "scenario.toml"
    assert main(["revisit", str(scenario), "--duration", "3600", "--step", "60", "--out", str(out), "--html"]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    acc = pd.read_parquet(out / "accesses.parquet")
    url = (out / "index.html").resolve().as_uri()
    page, errors, requests = _open(browser, url)
    assert page.evaluate("window.__skyfence.kind") == "revisit"
    page.screenshot(path=str(tmp_path / "revisit-view.png"))
    page.click("#metric-n_passes")
    assert page.evaluate("window.__skyfence.metric()") == "n_passes"
    for _, c in cells.sample(5, random_state=0).iterrows():
        assert page.evaluate("window.__skyfence.cellColor", c["cell"]) == page.evaluate("window.__skyfence.colorFor", float(c["n_passes"]))
    # who observes the first named target at step 30: the accesses covering that instant
    t = 30
    at = pd.Timestamp(page.evaluate("t => window.__skyfence.timeOf(t)", t)).tz_localize(None)
    name = acc["target_name"].iloc[0]
    want = acc[(acc["target_name"] == name) & (acc["start_utc"] <= at) & (acc["end_utc"] > at)]["name"]
    _set_step(page, t)
    assert sorted(page.evaluate("n => window.__skyfence.observing(n)", name)) == sorted(want)
    # a mouse click on a cell selects it
    h3 = cells["cell"].iloc[len(cells) // 2]
    lon, lat = page.evaluate("window.__skyfence.cellCentre", h3)
    x, y = page.evaluate("([lon, lat]) => window.__skyfence.pagePixel(lon, lat)", [lon, lat])
    page.mouse.click(x, y)
    page.wait_for_function("h3 => window.__skyfence.selected() === h3", arg=h3, timeout=10_000)
    assert "n_passes" in page.inner_text("#selection")
    assert errors == [] and requests == [url]
    page.close()
