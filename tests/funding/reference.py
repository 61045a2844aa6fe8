"""An independent per-terminal computation of funding, in plain Python (the reference for
skyfence.funding.resolve): loops over agreements, months, terminals and steps, no numpy."""

from __future__ import annotations

import datetime as dt
import math


def _ms(x) -> int:
    return int(str(x.astype("datetime64[ms]").astype("int64"))) if hasattr(x, "astype") else int(x)


def _month(ms: int) -> tuple[int, int]:
    d = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)
    return d.year, d.month


def reference_funding(agreements, ids, groups, region_rows, times_ms):
    """(funded[i][k] bool, sponsors[i][k] set, billed {(agreement id, (year, month)): count})."""
    n, s = len(ids), len(times_ms)
    months = sorted({_month(t) for t in times_ms})

    def covers(a, i, k) -> bool:
        t = times_ms[k]
        if not (_ms(a.start_utc) <= t < _ms(a.end_utc)):
            return False
        if a.covers == "group":
            return a.target[0] in groups[i]
        if a.covers == "terminals":
            return ids[i] in a.target
        return a.target[0] in region_rows[i][k]

    paid = {}
    billed = {}
    for a in agreements:
        remaining = a.total_budget
        for mo in months:
            steps = [k for k in range(s) if _month(times_ms[k]) == mo]
            elig = sorted((ids[i], i) for i in range(n) if any(covers(a, i, k) for k in steps))
            limit = math.inf
            if a.capped and a.price_per_terminal_month > 0:
                if a.monthly_cap is not None:
                    limit = _fit(a.monthly_cap, a.price_per_terminal_month)
                if remaining is not None:
                    limit = min(limit, _fit(remaining, a.price_per_terminal_month))
            chosen = {i for _, i in elig[: len(elig) if limit == math.inf else int(limit)]}
            billed[(a.id, mo)] = len(chosen)
            if remaining is not None:
                remaining -= len(chosen) * a.price_per_terminal_month
            for i in chosen:
                for k in steps:
                    if covers(a, i, k):
                        paid[(a.id, i, k)] = True
    funded = [[False] * s for _ in range(n)]
    sponsors = [[set() for _ in range(s)] for _ in range(n)]
    for i in range(n):
        for a in agreements:
            last = None
            for k in range(s):
                if paid.get((a.id, i, k)):
                    last = times_ms[k]
                    sponsors[i][k].add(a.sponsor)
                if last is not None and times_ms[k] - last <= round(a.grace_s * 1000):
                    funded[i][k] = True
    return funded, sponsors, billed


def _fit(budget: float, price: float) -> int:
    k = int(budget // price) + 1
    while k > 0 and k * price > budget:
        k -= 1
    return k
