"""Benchmark (issue 13, "Fast"): time to interactive of the run view in headless Chromium.

Time to interactive is what the page reports as ``window.__skyfence.readyMs``: milliseconds from
navigation start (``performance.timeOrigin``) to the first frame drawn with the cells and
terminals, after the whole view (panel, chart, slider) is built. Measured for both forms of the
page: served (``skyfence view OUT_DIR``) and the self-contained ``index.html`` opened from the file
system, each opened ``--repeat`` times in a fresh page (median and min reported, with the page's
own marks of where the time went: script start, meta, tables, states, cells, panel) and the
machine's load average, as these are wall-clock times.

    python benchmarks/web_view.py [OUT_DIR] [--repeat N]

OUT_DIR: a run's output folder written with ``--html`` (default: ``/tmp/uc``, written first with
``skyfence run --example ukraine-crimea --out /tmp/uc --html`` if missing: ~2-3 minutes).
Needs Debian's ``/usr/bin/chromium`` and Playwright for Python.

Measured (2026-11-27, this 2-core machine without a GPU, Chromium on SwiftShader, UNDER LOAD: load
average 18-20 from other jobs; ukraine-crimea, 3,107 cells x 1,440 steps, 2,009 terminals), median
(min) of 7 opens, interleaved with the page as of commit 951378d (deck.gl SolidPolygonLayer cells,
h3-js boundaries in the page, per-step x per-row state expansion) served the same way:

    before   served 2,593 ms (2,201)   file 2,247 ms (1,580)
    after    served 1,189 ms (1,123)   file   834 ms   (666)
    this script, after: served (skyfence view's server) 1,228 ms (954), file 883 ms (727)

Where the time went before: software WebGL (the cell layer's first frame: shader compilation and
read-back, ~0.4-0.7 s of GPU-process time, and the WebGL device creation the first frame waits for),
h3-js boundaries (~110 ms), the state expansion and counts (~150 ms); and, once cells were on a 2D
canvas, Chromium's closePath (linear in the path's length: 0.1-0.4 s a step for 3,107 cells).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def _measure(browser, url: str, repeat: int) -> dict:
    ready, marks = [], []
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.wait_for_function("window.__skyfence && (window.__skyfence.ready || window.__skyfence.error)",
                               timeout=120_000)
        if page.evaluate("window.__skyfence.error"):
            raise RuntimeError(page.evaluate("window.__skyfence.error"))
        r = page.evaluate("({readyMs: window.__skyfence.readyMs, scriptMs: window.__skyfence.scriptMs, marks: window.__skyfence.marks})")
        ready.append(r["readyMs"])
        marks.append(r)
        page.close()
    best = marks[ready.index(min(ready))]
    return {"ready_ms_median": round(statistics.median(ready)), "ready_ms_min": round(min(ready)),
            "ready_ms_all": [round(x) for x in ready], "marks_of_fastest": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", nargs="?", default="/tmp/uc")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    out = Path(args.out_dir)
    if not (out / "index.html").is_file():
        from skyfence.cli import main as cli

        cli(["run", "--example", "ukraine-crimea", "--out", str(out), "--html"])
    from playwright.sync_api import sync_playwright

    from skyfence.viz.web import view_server

    sizes = {p.name: p.stat().st_size for p in sorted((out / "view").iterdir())}
    sizes["index.html"] = (out / "index.html").stat().st_size
    server = view_server(out, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    served = f"http://127.0.0.1:{server.server_address[1]}/"
    load_before = os.getloadavg()
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--enable-unsafe-swiftshader"])
            # one warm-up load (the browser's own start, the first WebGL context)
            _measure(b, served, 1)
            result = {"served": _measure(b, served, args.repeat),
                      "file": _measure(b, (out / "index.html").resolve().as_uri(), args.repeat)}
            b.close()
    finally:
        server.shutdown()
        server.server_close()
    result.update(bytes=sizes, load_average_before=load_before, load_average_after=os.getloadavg(),
                  cpus=os.cpu_count())
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
