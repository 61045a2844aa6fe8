"""GET /service requests per second on loopback at a fixed concurrency, against GET /health,
for this tree and (``--baseline REF``) for an earlier commit, in one run.

    .venv/bin/python benchmarks/service_api.py [--concurrency 16] [--seconds 5]
        [--baseline REF] [--json out.json]

Setup (each tree its own): a fresh SQLite governance database with 1,000 active terminals spread
over Ukraine and the bundled ukraine-crimea.cedar policy enacted by a 2-of-4 quorum;
``skyfence serve`` (uvicorn, one process) on 127.0.0.1. The baseline is the commit REF exported
with ``git archive`` into a temporary folder and run from there (its own benchmark's setup and
server), one server at a time. The load: N keep-alive HTTP/1.1 connections driven by one asyncio
loop in this process (a light client, so the server is what is measured), authenticated by API
key. Measured, each for --seconds after a warm-up:

* ``/health`` (reference: the framework's floor);
* ``/service?terminal=..&at=FIXED``: one instant for every request;
* ``/service?terminal=..`` (at = now): the instant the server picks.

Printed: requests/s, mean and p95 latency, errors, the ratio to /health, after/before; that the
decisions (decision, reason, satellites, highest elevation, cell, regions) of both trees agree
for the first 100 terminals at the fixed instant; and the wall time of a 15,000-terminal CSV
import over the API (one transaction, one log entry) on this tree.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.governance.fixtures import ServerProcess, make_plane, write_log_key  # noqa: E402

from skyfence.governance import policies, registry  # noqa: E402
from skyfence.governance.rules.canonical import iso_utc  # noqa: E402

_SAME = ("decision", "reason", "visible_satellites", "max_elevation_deg", "h3_cell", "regions")

_BASELINE_DRIVER = r"""
import importlib.util, json, sys, tempfile
from pathlib import Path
root, n = Path(sys.argv[1]), int(sys.argv[2])
spec = importlib.util.spec_from_file_location("baseline_bench", root / "benchmarks/service_api.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
from tests.governance.fixtures import ServerProcess
p, key_path = bench._setup(Path(tempfile.mkdtemp()), n)
with ServerProcess(p.url, key_path) as srv:
    print(json.dumps({"base": srv.base, "api_key": p.api_keys["vic"]}), flush=True)
    sys.stdin.read()
"""


def _setup(tmp: Path, n_terminals: int) -> tuple:
    p = make_plane(f"sqlite:///{tmp / 'gov.db'}")
    rng = random.Random(1)
    rows = ["id,lat,lon,group"] + [f"t{i},{rng.uniform(45.5, 51.5):.5f},{rng.uniform(23.5, 39.5):.5f},"
                                   f"{rng.choice(['civil', 'ngo', 'whitelisted'])}"
                                   for i in range(n_terminals)]
    registry.import_terminals_csv(p.ledger, "op", "\n".join(rows), status="active")
    cedar = resources.files("skyfence.data").joinpath("policies/ukraine-crimea.cedar").read_text()
    f = p.proposal("alice", cedar=cedar, regions={
        "crimea": "B89",
        "black_sea_zone": {"polygon": [[30.5, 43.0], [36.5, 43.0], [36.5, 44.9], [30.5, 45.6]]}})
    policies.submit_proposal(p.ledger, "alice", f, p.sign("alice", f))
    for a in ("bob", "carol"):
        policies.submit_approval(p.ledger, a, f["id"], p.sign(a, f))
    key_path = write_log_key(tmp / "log.key", p.log_key)
    p.db.dispose()
    return p, key_path


# --------------------------------------------------------------------------- load


async def _connection(host: str, port: int, head: str, paths: Callable[[int], str], k: int,
                      step: int, t_end: float, lat: list[float], bad: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = k
    try:
        while time.perf_counter() < t_end:
            t0 = time.perf_counter()
            writer.write(f"GET {paths(i)} HTTP/1.1\r\n{head}\r\n".encode())
            header = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in header.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            bad[0] += header[9:12] != b"200"
            i += step
    finally:
        writer.close()


def _load(base: str, paths: Callable[[int], str], headers: dict, concurrency: int,
          seconds: float) -> dict:
    """`concurrency` keep-alive connections, each sending its next request when the last is
    answered, for `seconds`."""
    u = urlsplit(base)
    head = f"Host: {u.netloc}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    lat: list[float] = []
    bad = [0]

    async def run() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(_connection(u.hostname, u.port, head, paths, k, concurrency,
                                           t0 + seconds, lat, bad) for k in range(concurrency)))
        return time.perf_counter() - t0

    wall = asyncio.run(run())
    lat.sort()
    return {"requests": len(lat), "errors": bad[0], "rps": len(lat) / wall,
            "mean_ms": 1e3 * statistics.fmean(lat) if lat else float("nan"),
            "p95_ms": 1e3 * lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")}


def _measure(base: str, api_key: str, fixed: str, n: int, args) -> tuple[dict, list[dict]]:
    headers = {"X-API-Key": api_key}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        # warm-up: every terminal once at the fixed instant (its decision kept for comparison),
        # and one request at "now"
        sample = []
        for i in range(n):
            r = c.get("/service", params={"terminal": f"t{i}", "at": fixed})
            r.raise_for_status()
            if i < 100:
                sample.append({k: r.json().get(k) for k in _SAME})
        c.get("/service", params={"terminal": "t0"}).raise_for_status()
    cases = {
        "health": lambda i: "/health",
        "service_fixed_time": lambda i: f"/service?terminal=t{i % n}&at={fixed}",
        "service_now": lambda i: f"/service?terminal=t{i % n}",
    }
    results = {}
    for name, paths in cases.items():
        _load(base, paths, headers, args.concurrency, min(1.0, args.seconds))  # warm-up
        results[name] = _load(base, paths, headers, args.concurrency, args.seconds)
    return results, sample


def _bulk_import(base: str, api_key: str) -> float:
    rng = random.Random(2)
    csv = "id,lat,lon,group\n" + "\n".join(
        f"bulk{i},{rng.uniform(45.5, 51.5):.5f},{rng.uniform(23.5, 39.5):.5f},donated"
        for i in range(15_000))
    t0 = time.perf_counter()
    r = httpx.post(base + "/terminals/import", content=csv, timeout=120,
                   headers={"X-API-Key": api_key, "Content-Type": "text/csv"})
    r.raise_for_status()
    return time.perf_counter() - t0


def _baseline(ref: str, tmp: Path, n: int, fixed: str, args) -> tuple[dict, list[dict]]:
    """Measure the tree of commit `ref` (exported by git archive) with its own setup and server."""
    root = tmp / "baseline"
    root.mkdir()
    tar = subprocess.run(["git", "-C", str(REPO), "archive", ref, "src", "tests", "benchmarks"],
                         check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as t:
        t.extractall(root, filter="data")
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
    proc = subprocess.Popen([sys.executable, "-c", _BASELINE_DRIVER, str(root), str(n)],
                            cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        info = json.loads(proc.stdout.readline())
        return _measure(info["base"], info["api_key"], fixed, n, args)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--baseline", default=None, help="a git commit to measure first, e.g. HEAD~5")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    n = args.terminals
    # one instant for both trees, after both policies are enacted (each setup enacts its own)
    fixed = iso_utc(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30))
    runs: dict[str, dict] = {}
    samples: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            runs["before"], samples["before"] = _baseline(args.baseline, Path(tmp), n, fixed, args)
        p, key_path = _setup(Path(tmp), n)
        with ServerProcess(p.url, key_path) as srv:
            runs["after"], samples["after"] = _measure(srv.base, p.api_keys["vic"], fixed, n, args)
            import_s = _bulk_import(srv.base, p.api_keys["op"])
    print(f"loopback, concurrency {args.concurrency}, {args.seconds:g} s each, one uvicorn process"
          + (f"; before = {args.baseline}, after = this tree" if args.baseline else ""))
    print(f"{'run':7s} {'endpoint':20s} {'req/s':>9s} {'mean ms':>9s} {'p95 ms':>9s} "
          f"{'vs /health':>10s} {'errors':>7s}")
    for run, results in runs.items():
        ref = results["health"]["rps"]
        for name, r in results.items():
            print(f"{run:7s} {name:20s} {r['rps']:9.1f} {r['mean_ms']:9.2f} {r['p95_ms']:9.2f} "
                  f"{r['rps'] / ref:10.3f} {r['errors']:7d}")
    if "before" in runs:
        for name in runs["after"]:
            print(f"after/before {name}: {runs['after'][name]['rps'] / runs['before'][name]['rps']:.1f}x")
        same = samples["before"] == samples["after"]
        print(f"decisions of the first {len(samples['after'])} terminals at {fixed}: "
              + ("identical before and after" if same else "DIFFER"))
        for i, (b, a) in enumerate(zip(samples["before"], samples["after"], strict=True)):
            if a != b:
                print(f"  t{i}: before {b}\n  t{i}: after  {a}")
    print(f"bulk import over the API: 15,000 terminals in one transaction: {import_s:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"concurrency": args.concurrency, "runs": runs,
                                         "baseline": args.baseline,
                                         "bulk_import_15000_s": import_s}, indent=2))


if __name__ == "__main__":
    main()
