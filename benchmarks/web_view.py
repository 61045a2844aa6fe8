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
