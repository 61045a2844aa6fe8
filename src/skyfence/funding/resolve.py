"""Which agreements pay for which terminal at which step, vectorized over terminals and steps.

Semantics
---------
* **Covered** (eligible): terminal ``i`` is covered by agreement ``a`` at step ``k`` when ``t_k`` is
  in ``[start, end)`` and the terminal is in ``a``'s group, in its terminal list, or (region
  agreements) its own position at step ``k`` lies in the named region (absent terminals: in none).
* **Months** are calendar months (UTC) of the simulated steps; a terminal-month is billed whole,
  at ``price_per_terminal_month``, when the agreement pays for the terminal at one step or more of
  that month (so the price is per terminal-month, never prorated).
* **Caps**: in each month, an agreement with ``monthly_cap`` pays for at most
  ``floor(monthly_cap / price)`` of the terminals it covers in that month, and one with
  ``total_budget`` for at most ``floor(remaining / price)`` (the budget left after earlier months'
  bills); the terminals paid for are the first covered ones in terminal id order (a stable order,
  so the same terminals stay funded month after month). A cap therefore never overspends. Price 0:
  caps do not bind.
* **Paid** ``paid[a, i, k]``: covered at ``k`` and (uncapped, or among the month's terminals the
  caps allow).
* **Funded** (``context.funded``): paid by some agreement at ``k``, or within that agreement's grace
  period after a step it paid: ``exists a, j <= k: paid[a, i, j] and t_k - t_j <= grace_a``. A
  grace period runs on after an agreement ends, and is not billed.
* **Sponsors** (``context.sponsors``): the sponsors of the agreements that pay at ``k`` (empty in a
  grace period).

Method: the steps fall into segments (runs of consecutive steps in one calendar month over which
no agreement starts or ends); within a segment every agreement pays for a fixed set of terminals
(their groups, lists and fixed positions do not change), so payment is computed per terminal and
segment (``[terminals, segments]``: a few hundred segments for 50 agreements over a month, not
1,440 steps). Terminals whose position moves between named regions make every step a segment
when some agreement covers a region. Grace periods become, per terminal and segment, the last
instant up to which the terminal is funded (``until``): the end of a paid step plus the grace of
the agreement that paid it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from skyfence.errors import FundingError
from skyfence.funding.agreements import Agreement

__all__ = ["FundedSet", "resolve", "month_index", "cap_limit", "MAX_SPONSORS"]

MAX_SPONSORS = 64
_NEVER = np.int64(-(2**62))


def month_index(t_utc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the calendar months datetime64[M] the steps fall in, the month index of each step)."""
    m = np.asarray(t_utc).astype("datetime64[M]")
    months, idx = np.unique(m, return_inverse=True)
    return months, idx.ravel()


def cap_limit(budget: float, price: float) -> int:
    """The most terminal-months ``budget`` pays at ``price`` (``k * price <= budget`` in floats)."""
    k = int(np.floor(budget / price))
    while k > 0 and k * price > budget:
        k -= 1
    return max(k, 0)


@dataclass
class FundedSet:
    """The outcome of :func:`resolve`. Per terminal and segment (``segment_of_step`` gives each
    step's): ``mask`` (uint64, bit j set when sponsor ``sponsors[j]`` pays) and ``until`` (epoch
    ms: funded at a step of the segment iff its time <= until); per agreement and month:
    ``eligible`` (terminals covered), ``billed`` (terminals paid for), ``limit`` (what the caps
    allow, -1 = no cap); per agreement: ``terminals`` (distinct terminals it ever pays for),
    ``exhausted`` (month index from which its total budget cannot pay every covered terminal, -1
    never), ``cap_binding`` (first month its caps leave a covered terminal unpaid, -1 never)."""

    agreements: tuple[Agreement, ...]
    sponsors: tuple[str, ...]
    t_utc: np.ndarray
    segment_of_step: np.ndarray
    mask: np.ndarray
    until: np.ndarray
    months: np.ndarray
    month_of_step: np.ndarray
    eligible: np.ndarray
    billed: np.ndarray
    limit: np.ndarray
    terminals: np.ndarray
    exhausted: np.ndarray
    cap_binding: np.ndarray

    @property
    def t_ms(self) -> np.ndarray:
        return self.t_utc.astype("datetime64[ms]").astype(np.int64)

    @property
    def funded(self) -> np.ndarray:
        """bool [n_terminal, n_step]: ``context.funded`` (filled segment by segment)."""
        t_ms, seg = self.t_ms, self.segment_of_step
        out = np.empty((len(self.until), len(seg)), bool)
        bounds = np.flatnonzero(np.diff(seg)) + 1
        for a, b in zip(np.r_[0, bounds].tolist(), np.r_[bounds, len(seg)].tolist(), strict=True):
            if b > a:
                np.less_equal(t_ms[None, a:b], self.until[:, seg[a]:seg[a] + 1], out=out[:, a:b])
        return out

    @property
    def sponsor_mask(self) -> np.ndarray:
        """uint64 [n_terminal, n_step]: the paying sponsors as bits of ``sponsors``."""
        return self.mask[:, self.segment_of_step]

    def window(self, lo: int, hi: int) -> FundedSet:
        """The same agreements, budgets and per-terminal funding over steps ``[lo, hi)`` only (what
        a time shard decides with; budgets stay those spent from the first step of the whole grid)."""
        return replace(self, t_utc=self.t_utc[lo:hi], segment_of_step=self.segment_of_step[lo:hi],
                                   month_of_step=self.month_of_step[lo:hi])  # fmt: skip

    def funded_at(self, k: int) -> np.ndarray:
        """bool [n_terminal]: funded at step k."""
        return self.t_ms[k] <= self.until[:, self.segment_of_step[k]]

    def sponsor_names(self, masks: Iterable[int]) -> list[tuple[str, ...]]:
        """Sponsor name tuples of bit masks."""
        return [tuple(s for j, s in enumerate(self.sponsors) if (int(m) >> j) & 1) for m in masks]

    def sponsors_per_terminal(self) -> list[tuple[str, ...]]:
        """The sponsors that pay for each terminal at some step."""
        used = np.unique(self.segment_of_step)
        ever = (np.bitwise_or.reduce(self.mask[:, used], axis=1) if len(used)
                else np.zeros(len(self.mask), np.uint64))
        u, inv = np.unique(ever, return_inverse=True)
        names = self.sponsor_names(u.tolist())
        return [names[c] for c in inv.ravel().tolist()]

    def paid_by(self, j: int) -> np.ndarray:
        """bool [n_terminal, n_segment]: sponsor j pays in the segment."""
        return ((self.mask >> np.uint64(j)) & np.uint64(1)).astype(bool)

    def cost(self) -> np.ndarray:
        """float [n_agreement, n_month]: billed terminal-months times the price."""
        price = np.array([a.price_per_terminal_month for a in self.agreements], dtype=float)
        return self.billed * price[:, None] if len(price) else np.zeros((0, len(self.months)))


def _factorize_sets(items: Sequence) -> tuple[np.ndarray, list[frozenset]]:
    index: dict[frozenset, int] = {}
    codes = np.empty(len(items), dtype=np.int64)
    for i, g in enumerate(items):
        key = frozenset([g] if isinstance(g, str) else (g or ()))
        codes[i] = index.setdefault(key, len(index))
    return codes, list(index)


_INF = np.int64(2**62)


def resolve(
    agreements: Sequence[Agreement],
    terminal_ids: Sequence[str] | np.ndarray,
    groups: Sequence[Iterable[str]],
    t_utc: np.ndarray,
    *,
    region_codes: np.ndarray | None = None,
    region_sets: Sequence[Iterable[str]] = ((),),
    sponsors: Sequence[str] | None = None,
) -> FundedSet:
    """The funded set of every terminal at every step (see the module's semantics).

    ``groups``: each terminal's groups; ``region_codes``: int, ``[n_terminal]`` (fixed terminals) or
    ``[n_terminal, n_step]``, indices into ``region_sets`` (the named regions holding the
    terminal's position, ``()`` where absent; needed only by region agreements); ``sponsors``: the
    sponsor order of the bit masks (default: the agreements' sponsors, sorted).
    """
    agreements = tuple(agreements)
    t = np.asarray(t_utc).astype("datetime64[ms]")
    t_ms = t.astype(np.int64)
    n_t, n_s, n_a = len(terminal_ids), len(t), len(agreements)
    sp = tuple(sponsors) if sponsors is not None else tuple(sorted({a.sponsor for a in agreements}))
    if len(sp) > MAX_SPONSORS:
        raise FundingError(f"{len(sp)} sponsors: at most {MAX_SPONSORS} are supported")
    bit = {s: j for j, s in enumerate(sp)}
    for a in agreements:
        if a.sponsor not in bit:
            raise FundingError(f"agreement {a.id!r}: unknown sponsor {a.sponsor!r}")
    months, m_idx = month_index(t)
    n_m = len(months)
    ids = np.asarray([str(x) for x in terminal_ids], dtype=str) if n_t else np.zeros(0, dtype=str)
    order = np.argsort(ids, kind="stable")
    row_of = {x: i for i, x in enumerate(ids.tolist())} if any(a.covers == "terminals" for a in agreements) else {}
    windows = np.array([(t_ms >= a.start_utc.astype(np.int64)) & (t_ms < a.end_utc.astype(np.int64))
                        for a in agreements], dtype=bool).reshape(n_a, n_s)
    # region rows: fixed terminals keep one code; moving ones (with region agreements) force
    # one segment per step
    uses_regions = any(a.covers == "region" for a in agreements)
    region_sets = [frozenset(s) for s in region_sets]
    rc = None if region_codes is None or not uses_regions else np.asarray(region_codes, dtype=np.int64)
    if rc is not None and rc.ndim == 2 and n_s and not (rc == rc[:, :1]).all():
        per_step = True
    else:
        per_step = False
        if rc is not None and rc.ndim == 2:
            rc = rc[:, 0] if n_s else np.zeros(n_t, np.int64)
    # segments
    if per_step or n_s == 0:
        seg_of_step = np.arange(n_s)
    else:
        change = np.ones(n_s, bool)
        change[1:] = (m_idx[1:] != m_idx[:-1]) | (windows[:, 1:] != windows[:, :-1]).any(axis=0)
        seg_of_step = np.cumsum(change) - 1
    n_seg = int(seg_of_step[-1]) + 1 if n_s else 0
    seg_first = np.searchsorted(seg_of_step, np.arange(n_seg))
    seg_last = np.searchsorted(seg_of_step, np.arange(n_seg), side="right") - 1
    seg_month = m_idx[seg_first] if n_seg else np.zeros(0, np.int64)
    month_seg_start = np.searchsorted(seg_month, np.arange(n_m)) if n_m else np.zeros(0, np.int64)
    g_codes, g_sets = _factorize_sets(list(groups))

    def covered(k: int) -> np.ndarray:
        """bool [n_t, n_seg]: agreement k covers each terminal in each segment."""
        a = agreements[k]
        w = windows[k][seg_first]
        if a.covers == "group":
            lut = np.array([a.target[0] in s for s in g_sets], dtype=bool)
            col = lut[g_codes] if n_t else np.zeros(0, bool)
        elif a.covers == "terminals":
            col = np.zeros(n_t, bool)
            col[[row_of[x] for x in a.target if x in row_of]] = True
        else:
            lut = np.array([a.target[0] in s for s in region_sets] + [False], dtype=bool)
            if rc is None:
                col = np.zeros(n_t, bool)
            elif per_step:
                codes = np.minimum(rc, len(region_sets))
                return lut[codes] & w[None, :]  # one segment per step
            else:
                col = lut[np.minimum(rc, len(region_sets))]
        return col[:, None] & w[None, :]

    eligible = np.zeros((n_a, n_m), np.int64)
    billed = np.zeros((n_a, n_m), np.int64)
    limit = np.full((n_a, n_m), -1, np.int64)
    exhausted = np.full(n_a, -1, np.int64)
    cap_binding = np.full(n_a, -1, np.int64)
    terminals = np.zeros(n_a, np.int64)
    mask = np.zeros((n_t, n_seg), np.uint64)
    until = np.full((n_t, n_seg), _NEVER, np.int64)
    seg_end_ms = t_ms[seg_last] if n_seg else np.zeros(0, np.int64)
    for k, a in enumerate(agreements):
        cov = covered(k)
        if not cov.any():
            continue
        month_any = np.logical_or.reduceat(cov, month_seg_start, axis=1)  # [n_t, n_m]
        eligible[k] = month_any.sum(axis=0)
        price = a.price_per_terminal_month
        if a.capped and price > 0:
            k_cap = cap_limit(a.monthly_cap, price) if a.monthly_cap is not None else None
            remaining = a.total_budget
            chosen = np.zeros((n_t, n_m), bool)
            for m in range(n_m):
                lim = k_cap if k_cap is not None else np.iinfo(np.int64).max
                if remaining is not None:
                    k_tot = cap_limit(remaining, price)
                    if k_tot < eligible[k, m] and exhausted[k] < 0:
                        exhausted[k] = m
                    lim = min(lim, k_tot)
                limit[k, m] = lim
                if lim < eligible[k, m] and cap_binding[k] < 0:
                    cap_binding[k] = m
                e = month_any[order, m]
                chosen[order, m] = e & (np.cumsum(e) <= lim)
                billed[k, m] = int(chosen[:, m].sum())
                if remaining is not None:
                    remaining -= billed[k, m] * price
            paid = cov & chosen[:, seg_month]
        else:
            billed[k] = eligible[k]
            paid = cov
        terminals[k] = int(paid.any(axis=1).sum())
        mask |= paid.astype(np.uint64) << np.uint64(bit[a.sponsor])
        np.maximum(until, np.where(paid, _INF, _NEVER), out=until)
        if a.grace_s > 0:
            last = np.maximum.accumulate(np.where(paid, seg_end_ms[None, :], _NEVER), axis=1)
            prev = np.concatenate([np.full((n_t, 1), _NEVER), last[:, :-1]], axis=1)
            grace = int(round(a.grace_s * 1000))
            np.maximum(until, np.where(prev != _NEVER, prev + grace, _NEVER), out=until)
    return FundedSet(agreements, sp, t, seg_of_step, mask, until, months, m_idx, eligible, billed, limit,
                     terminals, exhausted, cap_binding)
