"""GET /service requests per second on loopback at a fixed concurrency, against GET /health.

    .venv/bin/python benchmarks/service_api.py [--concurrency 16] [--seconds 5] [--json out.json]

Setup: a fresh SQLite governance database with 1,000 active terminals spread over Ukraine and the
bundled ukraine-crimea.cedar policy enacted by a 2-of-4 quorum; ``skyfence serve`` (uvicorn, one
process) on 127.0.0.1; N client threads each with its own keep-alive httpx.Client, authenticated by
API key. Measured, each for --seconds after a warm-up:

* ``/health`` (reference: the framework's floor);
* ``/service?terminal=..&at=FIXED``: one instant, so satellite positions come from the server's
  position cache (SGP4 once): registry read, H3 cell, elevation of all satellites, Cedar decision,
  inclusion proofs, receipt signing;
* ``/service?terminal=..`` (at = now): new instant per request, so SGP4 for every satellite each time.

Printed: requests/s, mean and p95 latency, and the ratio to /health; and the wall time of a
15,000-terminal CSV import over the API (one transaction, one log entry).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.governance.fixtures import ServerProcess, make_plane, write_log_key  # noqa: E402

from skyfence.governance import policies, registry  # noqa: E402
from skyfence.governance.rules.canonical import iso_utc  # noqa: E402


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


def _load(base: str, paths, headers: dict, concurrency: int, seconds: float) -> dict:
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        mine, bad = [], 0
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            i = k
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = c.get(paths(i))
                mine.append(time.perf_counter() - t0)
                bad += r.status_code != 200
                i += concurrency
        with lock:
            lat.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return {"requests": len(lat), "errors": errors[0], "rps": len(lat) / wall,
            "mean_ms": 1e3 * statistics.fmean(lat),
            "p95_ms": 1e3 * lat[int(0.95 * (len(lat) - 1))]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        p, key_path = _setup(Path(tmp), args.terminals)
        headers = {"X-API-Key": p.api_keys["vic"]}
        fixed = iso_utc(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))  # policy in force
        with ServerProcess(p.url, key_path) as srv:
            first = httpx.get(srv.base + "/service", params={"terminal": "t0", "at": fixed},
                              headers=headers, timeout=120)
            first.raise_for_status()
            print(f"sample decision: {first.json()['decision']} ({first.json()['reason']})")
            rng = random.Random(2)
            csv = "id,lat,lon,group\n" + "\n".join(
                f"bulk{i},{rng.uniform(45.5, 51.5):.5f},{rng.uniform(23.5, 39.5):.5f},donated"
                for i in range(15_000))
            t0 = time.perf_counter()
            r = httpx.post(srv.base + "/terminals/import", content=csv, timeout=120,
                           headers={"X-API-Key": p.api_keys["op"], "Content-Type": "text/csv"})
            r.raise_for_status()
            import_s = time.perf_counter() - t0
            print(f"bulk import over the API: 15,000 terminals in one transaction: {import_s:.2f} s")
            n = args.terminals
            cases = {
                "health": lambda i: "/health",
                "service_fixed_time": lambda i: f"/service?terminal=t{i % n}&at={fixed}",
                "service_now": lambda i: f"/service?terminal=t{i % n}",
            }
            results = {}
            for name, paths in cases.items():
                _load(srv.base, paths, headers, args.concurrency, min(1.0, args.seconds))  # warm-up
                results[name] = _load(srv.base, paths, headers, args.concurrency, args.seconds)
    ref = results["health"]["rps"]
    print(f"loopback, concurrency {args.concurrency}, {args.seconds:g} s each, one uvicorn process")
    print(f"{'endpoint':22s} {'req/s':>9s} {'mean ms':>9s} {'p95 ms':>9s} {'vs /health':>10s} {'errors':>7s}")
    for name, r in results.items():
        print(f"{name:22s} {r['rps']:9.1f} {r['mean_ms']:9.2f} {r['p95_ms']:9.2f} "
              f"{r['rps'] / ref:10.3f} {r['errors']:7d}")
    if args.json:
        args.json.write_text(json.dumps({"concurrency": args.concurrency, "results": results,
                                         "bulk_import_15000_s": import_s}, indent=2))


if __name__ == "__main__":
    main()
