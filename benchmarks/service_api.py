"""GET /service requests per second with receipts on loopback, one uvicorn process, before
(``SKYFENCE_SERVICE_CACHE=off``: nothing kept between requests) and after (the kept view,
positions, Cedar answers and receipt templates), in one run, with the server's CPU per request.

    .venv/bin/python benchmarks/service_api.py [--concurrency 16] [--seconds 5]
        [--terminals 1000] [--client-procs 1] [--baseline REF] [--json out.json]

Setup: one fresh SQLite governance database with 1,000 active terminals spread over Ukraine and
the bundled ukraine-crimea.cedar policy enacted by a 2-of-4 quorum; ``skyfence serve`` (uvicorn,
httptools, uvloop, one process) on 127.0.0.1, started once with ``SKYFENCE_SERVICE_CACHE=off``
("before") and once without ("after"), one server at a time, on the same database. With
``--baseline REF`` the commit REF (exported by ``git archive``) is measured too, with its own
setup and server.

The load generator is this file run as a separate process (``--client-procs`` of them): N
keep-alive HTTP/1.1 connections on one uvloop event loop, written as a raw asyncio protocol (no
HTTP library), each sending its next request when the last is answered, authenticated by API
key. Its own ceiling is measured first against a trivial server process that answers every
request with a fixed 6.6 kB body (a receipt's size). Measured, each for --seconds after a
warm-up:

* ``/health`` (the framework's floor: a sync FastAPI route);
* ``/service?terminal=..&at=FIXED``: one instant for every request;
* ``/service?terminal=..`` (at = now): the instant the server picks (new positions every second).

Printed per run and endpoint: requests/s, p50 and p99 latency, errors, and the server process's
CPU time per request (user + system from /proc, HTTP parsing included: load-independent, unlike
requests/s on a shared machine); the same decision's CPU measured in this process by calling the
ASGI app directly (no HTTP); whether the first 100 receipts at the fixed instant are byte for
byte the same before and after (Ed25519 signatures are deterministic) and that one verifies with
``skyfence receipt verify``; the 1-minute load average; the wall time of a 15,000-terminal CSV
import over the API.

Measured (2026-11-27, 2-CPU Xeon VM shared with other jobs, 1-min load average 8.5-9.3, 16
connections, one client process whose ceiling was 27,081 req/s, 5 s per endpoint, 3 s before):

    run     endpoint              req/s  p50 ms  p99 ms  server CPU us/req
    before  health               1331.7   11.11   18.60     482
    before  service_fixed_time     23.1  680.62 1525.72   28831
    before  service_now            26.2  585.27 1136.89   26517
    after   health               1515.3    9.50   31.88     411
    after   service_fixed_time   1753.1    8.59   21.24     349
    after   service_now          1660.7    8.95   27.70     380

after/before 75.8x (fixed instant) and 63.3x (now); in-process ASGI call (no HTTP) 228 us
(fixed) and 409 us (now: the next second's SGP4 of every satellite is counted) of CPU per
request after, 27,055 and 23,130 us before; the first 100 receipts byte for byte identical.
Two more runs at a load average of 8-9: after 1554 and 1697 req/s (fixed), 924 and 1554 req/s
(now; server CPU 721 and 433 us/req: the "now" figure varies most); ``--baseline 951378d`` (the
tree before the receipt templates and the shortcut) in the first of them: 518 req/s (fixed) and
473 (now), 1192 and 1319 us of server CPU per request. Under a load average of 23-25 the after
figure was 504 req/s (server CPU 532-537 us/req).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import resources
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

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
    print(json.dumps({"base": srv.base, "api_key": p.api_keys["vic"], "pid": srv.proc.pid}),
          flush=True)
    sys.stdin.read()
"""
_RECEIPT_BYTES = 6600


def _setup(tmp: Path, n_terminals: int) -> tuple:
    from tests.governance.fixtures import make_plane, write_log_key

    from skyfence.governance import policies, registry

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


# --------------------------------------------------------------------------- load (client process)


def _fast_loop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


class _Conn(asyncio.Protocol):
    """One keep-alive connection: sends a request, reads the whole response (Content-Length),
    records the latency and status, sends the next, until the deadline."""

    def __init__(self, requests: list[bytes], t_end: float, lat: list[float], bad: list[int],
                 done: asyncio.Future):
        self.requests, self.t_end, self.lat, self.bad, self.done = requests, t_end, lat, bad, done
        self.i, self.buf, self.need, self.t0 = 0, bytearray(), -1, 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.t0 = time.perf_counter()
        self.transport.write(self.requests[self.i % len(self.requests)])
        self.i += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.need < 0:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buf[:end]).lower()
                self.status = head[9:12]
                self.need = end + 4 + _content_length(head)
            if len(self.buf) < self.need:
                return
            del self.buf[:self.need]
            self.need = -1
            now = time.perf_counter()
            self.lat.append(now - self.t0)
            self.bad[0] += self.status != b"200"
            if now >= self.t_end:
                self.transport.close()
                return
            self._send()

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _content_length(head: bytes) -> int:
    at = head.find(b"content-length:")
    if at < 0:
        return 0
    stop = head.find(b"\r\n", at)
    return int(head[at + 15:stop if stop > 0 else len(head)])


def _client(spec: dict) -> dict:
    """Run `spec["connections"]` connections for `spec["seconds"]`; the requests are
    `spec["paths"]` in turn (each connection from its own offset)."""
    _fast_loop()
    u = urlsplit(spec["base"])
    head = f"Host: {u.netloc}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in spec["headers"].items())
    reqs = [f"GET {p} HTTP/1.1\r\n{head}\r\n".encode() for p in spec["paths"]]
    lat: list[float] = []
    bad = [0]

    async def run() -> float:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        done = []
        for k in range(spec["connections"]):
            fut = loop.create_future()
            off = (k + spec["offset"]) * max(1, len(reqs) // 64)
            mine = reqs[off % len(reqs):] + reqs[:off % len(reqs)]
            await loop.create_connection(
                lambda m=mine, f=fut: _Conn(m, t0 + spec["seconds"], lat, bad, f),
                u.hostname, u.port)
            done.append(fut)
        await asyncio.gather(*done)
        return time.perf_counter() - t0

    wall = asyncio.run(run())
    return {"requests": len(lat), "errors": bad[0], "wall_s": wall,
            "lat_ms": [round(1e3 * x, 3) for x in lat]}


def _load(base: str, paths: list[str], headers: dict, args, seconds: float,
          server_pid: int | None) -> dict:
    """Requests/s, latency percentiles, errors and the server's CPU time per request, with the
    load spread over `args.client_procs` client processes."""
    procs = max(1, args.client_procs)
    per = [args.concurrency // procs + (i < args.concurrency % procs) for i in range(procs)]
    cpu0 = _cpu_s(server_pid)
    runs = [subprocess.Popen([sys.executable, __file__, "--_client"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
            for _ in range(procs)]
    for i, (pr, c) in enumerate(zip(runs, per, strict=True)):
        pr.stdin.write(json.dumps({"base": base, "paths": paths, "headers": headers,
                                   "connections": c, "seconds": seconds,
                                   "offset": sum(per[:i])}))
        pr.stdin.close()
    outs = [json.loads(pr.stdout.read()) for pr in runs]
    for pr in runs:
        pr.wait()
    cpu1 = _cpu_s(server_pid)
    lat = sorted(x for o in outs for x in o["lat_ms"])
    n = len(lat)
    wall = max(o["wall_s"] for o in outs)
    return {"requests": n, "errors": sum(o["errors"] for o in outs), "rps": n / wall,
            "p50_ms": lat[n // 2] if n else float("nan"),
            "p99_ms": lat[min(n - 1, int(0.99 * n))] if n else float("nan"),
            "server_cpu_us": 1e6 * (cpu1 - cpu0) / n if n and server_pid else float("nan")}


def _cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of process `pid` (all its threads) from /proc; 0 elsewhere."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- trivial server


def _trivial_server() -> None:
    """Answer every HTTP/1.1 request on a free loopback port with a fixed receipt-sized body;
    print the port."""
    _fast_loop()
    body = b"x" * _RECEIPT_BYTES
    response = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body)

    class Echo(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport, self.buf = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            n = self.buf.count(b"\r\n\r\n")
            if n:
                self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4:]
                self.transport.write(response * n)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def _client_ceiling(args) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--_trivial"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        _load(base, ["/x"], {}, args, min(1.0, args.seconds), None)
        return _load(base, ["/x"], {}, args, args.seconds, proc.pid)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


# --------------------------------------------------------------------------- runs


def _measure(base: str, api_key: str, fixed: str, n: int, args, pid: int | None,
             seconds: float, warm_all: bool = True) -> tuple[dict, list[bytes]]:
    import httpx

    headers = {"X-API-Key": api_key}
    sample = []
    with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
        # warm-up: every terminal once at the fixed instant (`warm_all`; else the first 100),
        # the first 100 receipts kept
        for i in range(n if warm_all else min(n, 100)):
            r = c.get("/service", params={"terminal": f"t{i}", "at": fixed})
            r.raise_for_status()
            if i < 100:
                sample.append(r.content)
        c.get("/service", params={"terminal": "t0"}).raise_for_status()
    cases = {
        "health": ["/health"],
        "service_fixed_time": [f"/service?terminal=t{i}&at={fixed}" for i in range(n)],
        "service_now": [f"/service?terminal=t{i}" for i in range(n)],
    }
    results = {}
    for name, paths in cases.items():
        _load(base, paths, headers, args, min(1.0, seconds), pid)  # warm-up
        results[name] = _load(base, paths, headers, args, seconds, pid)
    return results, sample


def _in_process_cpu_us(url: str, key_path: Path, api_key: str, fixed: str, n: int) -> dict:
    """CPU microseconds per GET /service calling the ASGI app in this process (no HTTP, no
    client), with and without what is kept."""
    from skyfence.api.app import create_app
    from skyfence.governance import service as svc

    app = create_app(url, log_key=str(key_path))
    headers = [(b"host", b"127.0.0.1"), (b"x-api-key", api_key.encode())]

    async def call(qs: str) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": "/service", "raw_path": b"/service",
                 "query_string": qs.encode(), "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        status = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(m):
            if m["type"] == "http.response.start":
                status.append(m["status"])

        await app(scope, receive, send)
        return status[0]

    async def per_request(queries: list[str]) -> float:
        for q in queries[:n]:  # each terminal read once
            assert await call(q) == 200
        c0 = time.process_time()
        for q in queries:
            assert await call(q) == 200
        return 1e6 * (time.process_time() - c0) / len(queries)

    out = {}
    for caching in (False, True):
        svc.CACHING = caching
        try:
            m = 3000 if caching else 60
            for name, qs in (("service_fixed_time", [f"terminal=t{i % n}&at={fixed}" for i in range(m)]),
                             ("service_now", [f"terminal=t{i % n}" for i in range(m)])):
                out[("after" if caching else "before", name)] = asyncio.run(per_request(qs))
        finally:
            svc.CACHING = True
    return out


def _verify_cli(receipt: bytes, verifier_key: str, tmp: Path) -> str:
    path = tmp / "receipt.json"
    path.write_bytes(receipt)
    r = subprocess.run([sys.executable, "-m", "skyfence.cli", "receipt", "verify", str(path),
                        "--key", verifier_key], capture_output=True, text=True)
    return ("OK" if r.returncode == 0 else f"FAILED ({r.returncode})") + ": " + \
        " / ".join(r.stdout.strip().splitlines()[-2:])


def _bulk_import(base: str, api_key: str) -> float:
    import httpx

    rng = random.Random(2)
    csv = "id,lat,lon,group\n" + "\n".join(
        f"bulk{i},{rng.uniform(45.5, 51.5):.5f},{rng.uniform(23.5, 39.5):.5f},donated"
        for i in range(15_000))
    t0 = time.perf_counter()
    r = httpx.post(base + "/terminals/import", content=csv, timeout=120,
                   headers={"X-API-Key": api_key, "Content-Type": "text/csv"})
    r.raise_for_status()
    return time.perf_counter() - t0


def _baseline(ref: str, tmp: Path, n: int, fixed: str, args) -> dict:
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
        return _measure(info["base"], info["api_key"], fixed, n, args, info.get("pid"),
                        args.seconds)[0]
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--before-seconds", type=float, default=None,
                    help="seconds per endpoint of the 'before' run (default --seconds)")
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    ap.add_argument("--baseline", default=None, help="a git commit to measure too, e.g. HEAD~5")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from tests.governance.fixtures import ServerProcess

    from skyfence.governance.rules.canonical import iso_utc

    n = args.terminals
    # one instant for every run, after the policy is enacted
    fixed = iso_utc(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30))
    runs: dict[str, dict] = {}
    samples: dict[str, list[bytes]] = {}
    load_avg = {}
    ceiling = _client_ceiling(args)
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            runs[f"baseline {args.baseline}"] = _baseline(args.baseline, Path(tmp), n, fixed, args)
        p, key_path = _setup(Path(tmp), n)
        for run, env in (("before", {"SKYFENCE_SERVICE_CACHE": "off"}), ("after", {})):
            load_avg[run] = os.getloadavg()[0]
            with ServerProcess(p.url, key_path, workers_env=env) as srv:
                runs[run], samples[run] = _measure(
                    srv.base, p.api_keys["vic"], fixed, n, args, srv.proc.pid,
                    (args.before_seconds or args.seconds) if run == "before" else args.seconds,
                    warm_all=run == "after")
                if run == "after":
                    import_s = _bulk_import(srv.base, p.api_keys["op"])
        verified = _verify_cli(samples["after"][0], p.ledger.verifier_key, Path(tmp))
        in_proc = _in_process_cpu_us(p.url, key_path, p.api_keys["vic"], fixed, n)
    print(f"loopback, concurrency {args.concurrency} over {args.client_procs} client "
          f"process(es), {args.seconds:g} s each, one uvicorn process (httptools, uvloop); "
          f"1-min load average {load_avg['before']:.1f} (before), {load_avg['after']:.1f} "
          f"(after), {os.getloadavg()[0]:.1f} (end), {os.cpu_count()} CPUs")
    print(f"client ceiling (trivial server, {_RECEIPT_BYTES} B bodies): {ceiling['rps']:.0f} "
          f"req/s, p50 {ceiling['p50_ms']:.2f} ms")
    print(f"{'run':14s} {'endpoint':20s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'srv CPU us/req':>14s} {'errors':>7s}")
    for run, results in runs.items():
        for name, r in results.items():
            print(f"{run:14s} {name:20s} {r['rps']:8.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                  f"{r['server_cpu_us']:14.0f} {r['errors']:7d}")
    for name in ("service_fixed_time", "service_now"):
        print(f"after/before {name}: {runs['after'][name]['rps'] / runs['before'][name]['rps']:.1f}x")
    for (run, name), us in in_proc.items():
        print(f"in-process ASGI call (no HTTP), {run:6s} {name:20s}: {us:8.0f} us CPU/request")
    same = samples["before"] == samples["after"]
    print(f"receipts of the first {len(samples['after'])} terminals at {fixed}: "
          + ("byte for byte identical before and after" if same else "DIFFER"))
    print(f"skyfence receipt verify (one receipt, log key pinned): {verified}")
    print(f"bulk import over the API: 15,000 terminals in one transaction: {import_s:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "concurrency": args.concurrency, "client_procs": args.client_procs, "runs": runs,
            "client_ceiling": ceiling, "load_avg_1min": load_avg, "receipts_identical": same,
            "in_process_cpu_us": {f"{r} {e}": v for (r, e), v in in_proc.items()},
            "baseline": args.baseline, "bulk_import_15000_s": import_s}, indent=2))


if __name__ == "__main__":
    if sys.argv[1:] == ["--_client"]:
        print(json.dumps(_client(json.loads(sys.stdin.read()))))
    elif sys.argv[1:] == ["--_trivial"]:
        _trivial_server()
    else:
        main()
